// Malformed or hostile frames get an error reply or are dropped; the broker
// keeps running and nothing is stored.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

class ProtocolAbuse : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster.StartBroker();
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::rcvtimeo, 2000);
    socket.connect(cluster.endpoint());
  }
  void Send(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      socket.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore
                                                                 : zmq::send_flags::none);
    }
  }
  // The frames of the next reply, or none after the timeout.
  std::vector<std::string> Receive() {
    std::vector<std::string> frames;
    zmq::message_t part;
    do {
      if (!socket.recv(part)) return frames;
      frames.emplace_back(part.to_string());
    } while (part.more());
    return frames;
  }
  Cluster cluster;
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
};

TEST_F(ProtocolAbuse, MalformedMessagesGetAnErrorAndChangeNothing) {
  const std::vector<std::vector<std::string>> bad = {
      {"just one frame"},
      {"LEASEQ1", "submit"},
      {"HTTP/1.1", "submit", "{}"},
      {"LEASEQ1", "frobnicate", "{}"},
      {"LEASEQ1", "submit", "{not json"},
      {"LEASEQ1", "submit", "[1, 2, 3]"},
      {"LEASEQ1", "submit", R"({"id": 1, "tasks": "x"})"},
      {"LEASEQ1", "submit", R"({"id": 2, "tasks": [{"key": "a", "cmd": "echo"}]})"},
      {"LEASEQ1", "submit", R"({"id": 3, "tasks": [{"key": "a", "cmd": ["echo"], "zzz": 1}]})"},
      {"LEASEQ1", "register", R"({"name": 7})"},
      {"LEASEQ1", "welcome", "{}"},
      {"LEASEQ1", "show", R"({"id": 4, "key": 12})"},
      {"LEASEQ1", "states", R"({"id": 5, "keys": [1]})"},
  };
  for (const auto& frames : bad) {
    Send(frames);
    auto reply = Receive();
    ASSERT_EQ(reply.size(), 3u) << frames[0] << " " << (frames.size() > 1 ? frames[1] : "");
    EXPECT_EQ(reply[0], "LEASEQ1");
    EXPECT_EQ(reply[1], "error") << frames.back();
    EXPECT_NE(reply[2].find("message"), std::string::npos);
  }
  EXPECT_EQ(cluster.Ctl({"status"}).exit_code, 0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM workers"), 0);
}

// The declaration (src/common/wire_messages.def) refuses a command from the
// wrong role and a body without its fields, saying which, with the id echoed
// so that the client stops waiting.
TEST_F(ProtocolAbuse, TheRefusalNamesTheCommandAndTheFieldAndEchoesTheId) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"LEASEQ1", "register", R"({"name": "w", "pid": 1, "session": "s", "slots": "2"})"},
       "register: field 'slots' must be an integer"},
      {{"LEASEQ1", "register", R"({"name": "w", "pid": 1, "session": "s"})"},
       "register: field 'slots' is missing: it must be an integer"},
      {{"LEASEQ1", "welcome", R"({"id": 41, "heartbeat_ms": 1, "liveness": 1})"},
       "command 'welcome' is one the broker sends, not a request it takes"},
      {{"LEASEQ1", "backup", R"({"id": 42, "path": "x"})"},
       "backup: field 'token' is missing: it must be a string"},
      {{"LEASEQ1", "lost", R"({"id": 43, "name": "w", "pid": "1"})"},
       "lost: field 'pid' must be an integer"},
  };
  for (const auto& [frames, message] : cases) {
    Send(frames);
    auto reply = Receive();
    ASSERT_EQ(reply.size(), 3u) << frames[2];
    EXPECT_EQ(reply[1], "error");
    const auto body = nlohmann::json::parse(reply[2]);
    EXPECT_EQ(body.value("message", ""), message) << reply[2];
    const auto sent = nlohmann::json::parse(frames[2]);
    EXPECT_EQ(body.value("id", nlohmann::json()), sent.value("id", nlohmann::json())) << reply[2];
  }
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM workers"), 0);
}

TEST_F(ProtocolAbuse, JsonLinesSubmissionIsAllOrNothingAndNamesTheBadLine) {
  // The form leaseq-submit sends: JSON Lines in blob 0 (docs/protocol.md).
  const std::string good = "{\"key\": \"a\", \"cmd\": [\"true\"]}\n{\"key\": \"b\", \"fn\": \"noop\", \"after\": [\"a\"]}\n";
  for (const std::string& bad_line : {std::string("{not json"), std::string("{\"key\": \"c\"}"),
                                      std::string("{\"cmd\": [\"x\"]}"),
                                      std::string("{\"key\": \"c\", \"cmd\": [\"x\"], \"after\": [\"nope\"]}")}) {
    Send({"LEASEQ1", "submit", R"({"id": 9})", good + bad_line + "\n"});
    auto reply = Receive();
    ASSERT_EQ(reply.size(), 3u);
    EXPECT_EQ(reply[1], "error") << bad_line;
    EXPECT_NE(reply[2].find("\"index\":2"), std::string::npos) << bad_line << ": " << reply[2];
  }
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), 0);
  Send({"LEASEQ1", "submit", R"({"id": 10})", good});
  auto reply = Receive();
  ASSERT_EQ(reply.size(), 3u);
  EXPECT_EQ(reply[1], "reply") << reply[2];
  EXPECT_NE(reply[2].find("\"count\":2"), std::string::npos) << reply[2];
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), 2);
}

TEST_F(ProtocolAbuse, WorkerCommandsFromAStrangerAreAnsweredWithReregister) {
  Send({"LEASEQ1", "result", R"({"attempt": 1, "exit_code": 0})", "forged"});
  auto reply = Receive();
  ASSERT_GE(reply.size(), 2u);
  EXPECT_EQ(reply[1], "reregister");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts"), 0);
}

TEST_F(ProtocolAbuse, OversizedMessageDoesNotStopTheBroker) {
  // Larger than ZMQ_MAXMSGSIZE: the broker drops the connection, not itself.
  std::string huge(600u << 20, 'x');
  Send({"LEASEQ1", "submit", huge});
  huge.clear();
  huge.shrink_to_fit();
  EXPECT_TRUE(WaitFor([&] { return cluster.Ctl({"status"}).exit_code == 0; }, 20s));
  EXPECT_TRUE(cluster.broker().running());
}

}  // namespace
}  // namespace leaseq::testing
