// Batched frames through the broker's loop (wire_batch.h): a worker that
// registers with `batch: true` gets the tasks of a pass in one `tasks`
// frame, and a `results` frame is taken item by item, as if each result had
// come alone, with one ack for the pass.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "broker/broker_loop_fixture.h"

namespace leaseq {
namespace {

using wire::Command;
using nlohmann::json;

json ResultBody(int64_t attempt, int exit_code = 0) {
  return {{"attempt", attempt}, {"exit_code", exit_code}, {"signal", 0}, {"error", ""}};
}

class BrokerBatchTest : public test_support::BrokerLoopFixture {
 protected:
  BrokerBatchTest() : BrokerLoopFixture("leaseq-broker-batch") {}
  void SetUp() override {
    BrokerLoopFixture::SetUp();
    worker_ = Connect();
    client_ = Connect();
    wire::Message welcome = Ask(*worker_, wire::Make(Command::kRegister,
                                                     {{"name", "w"}, {"pid", 1}, {"session", "s"},
                                                      {"slots", 3}, {"prefetch", 0},
                                                      {"fns", {"noop"}}, {"running", json::array()},
                                                      {"batch", true}}));
    ASSERT_EQ(welcome.command, Command::kWelcome) << welcome.body.dump();
    EXPECT_EQ(welcome.body.value("batch", false), true);  // it takes `results` frames
  }
  // Submits n noop tasks; the keys.
  std::vector<std::string> Submit(int n, const std::string& queue = "default") {
    json tasks = json::array();
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      keys.push_back(queue + "-" + std::to_string(i));
      tasks.push_back({{"key", keys.back()}, {"fn", "noop"}, {"queue", queue}});
    }
    wire::Message reply = Ask(*client_, wire::Make(Command::kSubmit, {{"id", 1}, {"tasks", tasks}}));
    EXPECT_EQ(reply.command, Command::kReply) << reply.body.dump();
    return keys;
  }
  std::string StateOf(const std::string& key) {
    return Ask(*client_, wire::Make(Command::kFetch, {{"id", 2}, {"key", key}})).body.value("state", "");
  }

  std::unique_ptr<zmq::socket_t> worker_, client_;
};

TEST_F(BrokerBatchTest, TheTasksOfAPassGoInOneFrameAndResultsAreTakenOneByOneWithOneAck) {
  std::vector<std::string> keys = Submit(3);
  ASSERT_EQ(keys.size(), 3u);
  // Leased in the pass that stored them: one frame.
  wire::Message frame = Next(*worker_);
  ASSERT_EQ(frame.command, Command::kTasks) << frame.body.dump();
  ASSERT_EQ(frame.body["tasks"].size(), 3u);
  EXPECT_TRUE(frame.blobs.empty());  // no stdin: the empty blobs are left out
  std::map<std::string, int64_t> attempt;  // by key
  for (const auto& t : frame.body["tasks"]) {
    ASSERT_TRUE(wire::CheckBody(Command::kTask, t).ok()) << t.dump();
    attempt[t["key"]] = t["attempt"];
  }

  // The third is cancelled: its attempt is aborted, and its result, when it
  // comes between two valid ones, is stale. All three are acked at once.
  wire::Message cancelled = Ask(*client_, wire::Make(Command::kCancel, {{"id", 3}, {"keys", {keys[2]}}}));
  ASSERT_EQ(cancelled.command, Command::kReply) << cancelled.body.dump();
  wire::Message abort = Next(*worker_);
  ASSERT_EQ(abort.command, Command::kAbort);
  EXPECT_EQ(abort.body["attempts"], json({attempt[keys[2]]}));
  wire::Message ack = Ask(*worker_, wire::Make(Command::kResults,
                                               {{"results", {ResultBody(attempt[keys[0]]),
                                                             ResultBody(attempt[keys[2]]),
                                                             ResultBody(attempt[keys[1]], 1)}}},
                                               {"out0"}));
  ASSERT_EQ(ack.command, Command::kAck) << ack.body.dump();
  std::vector<int64_t> acked = ack.body["attempts"];
  EXPECT_EQ(std::set<int64_t>(acked.begin(), acked.end()),
            (std::set<int64_t>{attempt[keys[0]], attempt[keys[1]], attempt[keys[2]]}));
  wire::Message fetched = Ask(*client_, wire::Make(Command::kFetch, {{"id", 4}, {"key", keys[0]}}));
  EXPECT_EQ(fetched.body.value("state", ""), "done");
  EXPECT_EQ(fetched.blobs, std::vector<std::string>{"out0"});  // blob 0 is results[0]'s
  EXPECT_NE(StateOf(keys[1]), "running");  // exit 1: failed or queued again, not lost
  EXPECT_EQ(StateOf(keys[2]), "cancelled");
}

TEST_F(BrokerBatchTest, AMalformedResultsFrameGetsAClearErrorAndLosesNothing) {
  std::vector<std::string> keys = Submit(2);
  wire::Message frame = Next(*worker_);
  ASSERT_EQ(frame.command, Command::kTasks) << frame.body.dump();
  const int64_t a0 = frame.body["tasks"][0]["attempt"], a1 = frame.body["tasks"][1]["attempt"];
  const std::string k0 = frame.body["tasks"][0]["key"], k1 = frame.body["tasks"][1]["key"];

  // Not a list: refused by its declaration.
  wire::Message error = Ask(*worker_, wire::Make(Command::kResults, {{"results", 5}}));
  ASSERT_EQ(error.command, Command::kError);
  EXPECT_EQ(error.body.value("message", ""), "results: field 'results' must be a list");
  // More blobs than results: whose output is whose is unknown, none is used.
  error = Ask(*worker_, wire::Make(Command::kResults, {{"results", {ResultBody(a0)}}}, {"x", "y"}));
  ASSERT_EQ(error.command, Command::kError);
  EXPECT_EQ(error.body.value("message", ""), "results: 2 blobs for 1 item(s): at most one each");
  EXPECT_EQ(StateOf(k0), "running");
  EXPECT_EQ(StateOf(k1), "running");

  // A bad item is refused alone; the good one beside it is stored and acked.
  json bad = ResultBody(a0);
  bad.erase("exit_code");
  EXPECT_TRUE(transport::Send(*worker_, wire::Make(Command::kResults,
                                                   {{"results", {bad, ResultBody(a1)}}})));
  error = Next(*worker_);
  ASSERT_EQ(error.command, Command::kError) << error.body.dump();
  EXPECT_EQ(error.body.value("message", ""),
            "results: item 0: result: field 'exit_code' is missing: it must be an integer");
  wire::Message ack = Next(*worker_);
  ASSERT_EQ(ack.command, Command::kAck) << ack.body.dump();
  EXPECT_EQ(ack.body["attempts"], json({a1}));
  EXPECT_EQ(StateOf(k0), "running");
  EXPECT_EQ(StateOf(k1), "done");
  // The single form is still taken.
  ack = Ask(*worker_, wire::Make(Command::kResult, ResultBody(a0)));
  ASSERT_EQ(ack.command, Command::kAck) << ack.body.dump();
  EXPECT_EQ(StateOf(k0), "done");
}

TEST_F(BrokerBatchTest, AWorkerWithoutBatchesGetsOneTaskPerFrame) {
  auto old = Connect();
  wire::Message welcome = Ask(*old, wire::Make(Command::kRegister,
                                               {{"name", "old"}, {"pid", 2}, {"session", "o"},
                                                {"slots", 2}, {"queues", {"q"}},
                                                {"fns", {"noop"}}, {"running", json::array()}}));
  ASSERT_EQ(welcome.command, Command::kWelcome);
  Submit(2, "q");
  EXPECT_EQ(Next(*old).command, Command::kTask);
  EXPECT_EQ(Next(*old).command, Command::kTask);
}

}  // namespace
}  // namespace leaseq
