// One pass of the broker's core (Broker::Pass) over an in-memory port, so
// that the test decides which messages arrive in the same pass and in what
// order, which the loop over a real socket cannot promise.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "broker/broker.h"
#include "broker/broker_loop_fixture.h"

namespace leaseq {
namespace {

using nlohmann::json;
using wire::Command;

// Messages queued by the test come out of Receive in order; Send keeps what
// the broker sent.
class QueuePort final : public RouterPort {
 public:
  bool Receive(std::string* routing_id, wire::Message* m, Status* decoded) override {
    if (in_.empty()) return false;
    *routing_id = std::move(in_.front().first);
    *m = std::move(in_.front().second);
    *decoded = Status::Ok();
    in_.pop_front();
    return true;
  }
  bool Send(const std::string& routing_id, const wire::Message& m) override {
    if (m.command != Command::kHeartbeat) sent_.emplace_back(routing_id, m);
    return true;
  }
  void Push(const std::string& from, wire::Message m) { in_.emplace_back(from, std::move(m)); }
  // What the broker sent since the last call.
  std::vector<std::pair<std::string, wire::Message>> Take() { return std::exchange(sent_, {}); }

 private:
  std::deque<std::pair<std::string, wire::Message>> in_;
  std::vector<std::pair<std::string, wire::Message>> sent_;
};

class BrokerPassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BrokerOptions o;
    o.db_path = dir_.File("leaseq.db");
    o.settings = test_support::kLoopSettings;
    Status s = Broker::Create(o, &clock_, &port_, &broker_);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  // The one message the last pass sent to `to`.
  wire::Message SentTo(const std::string& to) {
    wire::Message found;
    int n = 0;
    for (auto& [id, m] : port_.Take()) {
      if (id == to) {
        found = m;
        ++n;
      }
    }
    EXPECT_EQ(n, 1) << "messages to " << to;
    return found;
  }

  test_support::ManualClock clock_;
  test_support::TempDir dir_{"leaseq-broker-pass"};
  QueuePort port_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(BrokerPassTest, AFetchThatArrivesBeforeTheResultInOnePassSeesTheResult) {
  port_.Push("w", wire::Make(Command::kRegister, {{"name", "w"}, {"pid", 1}, {"session", "s"},
                                                  {"slots", 1}, {"prefetch", 0}, {"fns", {"noop"}},
                                                  {"running", json::array()}}));
  broker_->Pass();
  ASSERT_EQ(SentTo("w").command, Command::kWelcome);

  port_.Push("c", wire::Make(Command::kSubmit, {{"id", 1}, {"tasks", {{{"key", "k"}, {"fn", "noop"}}}}}));
  broker_->Pass();
  auto sent = port_.Take();
  ASSERT_EQ(sent.size(), 2u);  // the reply and the task, after one commit
  wire::Message task = sent[0].first == "w" ? sent[0].second : sent[1].second;
  ASSERT_EQ(task.command, Command::kTask) << task.body.dump();

  // The client asks first, the result comes right behind it: one pass.
  port_.Push("c", wire::Make(Command::kFetch, {{"id", 2}, {"key", "k"}}));
  port_.Push("w", wire::Make(Command::kResult, {{"attempt", task.body["attempt"]}, {"exit_code", 0}},
                             {"out"}));
  broker_->Pass();
  std::vector<std::pair<std::string, wire::Message>> replies = port_.Take();
  ASSERT_EQ(replies.size(), 2u);  // the worker's ack and the client's reply
  for (const auto& [to, m] : replies) {
    if (to != "c") continue;
    EXPECT_EQ(m.body.value("state", ""), "done") << m.body.dump();
    EXPECT_EQ(m.blobs, std::vector<std::string>{"out"});
  }
}

}  // namespace
}  // namespace leaseq
