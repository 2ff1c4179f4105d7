// One pass of the broker's core (Broker::Pass) over an in-memory port, so
// that the test decides which messages arrive in the same pass and in what
// order, which the loop over a real socket cannot promise. Also the
// prefetch hold (prefetch_hold.h), alone and in a pass.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "broker/broker.h"
#include "broker/broker_loop_fixture.h"
#include "broker/prefetch_hold.h"

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
    if (m.command != Command::kHeartbeat) sent_.emplace_back(routing_id, wire::AsReceived(m));
    return true;
  }
  void Push(const std::string& from, wire::Message m) { in_.emplace_back(from, std::move(m)); }
  // What the broker sent since the last call.
  std::vector<std::pair<std::string, wire::Message>> Take() { return std::exchange(sent_, {}); }

 private:
  std::deque<std::pair<std::string, wire::Message>> in_;
  std::vector<std::pair<std::string, wire::Message>> sent_;
};

// A worker's register: `slots` slots, `prefetch`, the noop function.
wire::Message Register(const std::string& name, int prefetch, int slots = 1, bool batch = false) {
  json body = {{"name", name}, {"pid", 1}, {"session", name}, {"slots", slots},
               {"prefetch", prefetch}, {"fns", {"noop"}}, {"running", json::array()}};
  if (batch) body["batch"] = true;
  return wire::Make(Command::kRegister, std::move(body));
}

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

// The loop polls without sleeping after a pass that answered someone
// (broker_loop.cc); a pass that only took heartbeats sends nothing back, so
// 1,000 idle workers do not make it spin.
TEST_F(BrokerPassTest, APassSaysWhetherItAnsweredAnybody) {
  port_.Push("w", Register("w", 0));
  broker_->Pass();
  ASSERT_EQ(SentTo("w").command, Command::kWelcome);
  EXPECT_TRUE(broker_->Answered());

  port_.Push("w", wire::Make(Command::kHeartbeat));
  broker_->Pass();
  EXPECT_TRUE(port_.Take().empty());
  EXPECT_FALSE(broker_->Answered());

  broker_->Pass();  // nothing arrived
  EXPECT_FALSE(broker_->Answered());

  port_.Push("c", wire::Make(Command::kFetch, {{"id", 1}, {"key", "nothing"}}));
  broker_->Pass();
  SentTo("c");  // that there is no such task
  EXPECT_TRUE(broker_->Answered());
}

TEST_F(BrokerPassTest, AFetchThatArrivesBeforeTheResultInOnePassSeesTheResult) {
  port_.Push("w", Register("w", 0));
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

// The task messages among `sent` that went to `to`.
std::vector<wire::Message> TasksTo(const std::vector<std::pair<std::string, wire::Message>>& sent,
                                   const std::string& to) {
  std::vector<wire::Message> tasks;
  for (const auto& [id, m] : sent) {
    if (id == to && m.command == Command::kTask) tasks.push_back(m);
  }
  return tasks;
}

// A worker whose slot runs a long task hands back what it prefetched: those
// tasks go to free slots for a while, not to another worker's prefetch (it
// would hand them back in turn).
TEST_F(BrokerPassTest, TasksHandedBackAfterALongTaskGoToFreeSlotsNotToPrefetch) {
  port_.Push("w1", Register("w1", 4));
  broker_->Pass();
  json tasks = json::array();
  for (int i = 0; i < 5; ++i) tasks.push_back({{"key", "k" + std::to_string(i)}, {"fn", "noop"}});
  port_.Push("c", wire::Make(Command::kSubmit, {{"id", 1}, {"tasks", tasks}}));
  broker_->Pass();
  std::vector<wire::Message> held = TasksTo(port_.Take(), "w1");
  ASSERT_EQ(held.size(), 5u);  // 1 slot + 4 prefetched

  // w1's slot runs a long one: prefetch 0, the 4 others handed back; w2
  // (prefetch 4) is there in the same pass.
  port_.Push("w1", wire::Make(Command::kReady, {{"slots", 1}, {"prefetch", 0}}));
  json handed_back = json::array();
  for (size_t i = 1; i < held.size(); ++i) handed_back.push_back(held[i].body["attempt"]);
  port_.Push("w1", wire::Make(Command::kRelease, {{"attempts", handed_back}}));
  port_.Push("w2", Register("w2", 4));
  broker_->Pass();
  std::vector<wire::Message> to_w2 = TasksTo(port_.Take(), "w2");
  ASSERT_EQ(to_w2.size(), 1u);  // its free slot only
  EXPECT_FALSE(to_w2[0].body.value("prefetched", false));

  // A second later the hold is over: w2's prefetch counts again.
  clock_.Advance(1001);
  port_.Push("w2", wire::Make(Command::kHeartbeat, {{"running", {to_w2[0].body["attempt"]}}}));
  broker_->Pass();
  EXPECT_EQ(TasksTo(port_.Take(), "w2").size(), 3u);  // the 3 left, prefetched
}

TEST(PrefetchHold, AReleaseRightAfterTheDropToZeroIsAHandBackAndHoldsItsQueues) {
  EXPECT_TRUE(PrefetchHold::IsHandBack(/*slots=*/2, /*prefetch=*/0, /*dropped=*/1000, /*now=*/1500));
  EXPECT_FALSE(PrefetchHold::IsHandBack(2, 0, 1000, 1000 + PrefetchHold::kHandBackWindowMs + 1));
  EXPECT_FALSE(PrefetchHold::IsHandBack(0, 0, 1000, 1500));  // a drain
  EXPECT_FALSE(PrefetchHold::IsHandBack(2, 0, 0, 1500));     // its prefetch did not just drop
  EXPECT_FALSE(PrefetchHold::IsHandBack(2, 8, 1000, 1500));  // it raised it again
  PrefetchHold hold(1000);
  EXPECT_FALSE(hold.Held({"default"}, 0));
  hold.HandedBack({"a"}, 5000);
  EXPECT_TRUE(hold.Held({"b", "a"}, 5999));
  EXPECT_FALSE(hold.Held({"b"}, 5999));
  EXPECT_FALSE(hold.Held({"a"}, 6000));
}

}  // namespace
}  // namespace leaseq

namespace leaseq {
namespace {

// The broker's port keeps a `results` body as text (DecodeResultsAsText):
// a plain one is read without json, any other parsed and judged as before.
TEST_F(BrokerPassTest, AResultsFrameKeptAsTextIsReadPlainOrParsedAndJudged) {
  port_.Push("w", Register("w", 0, /*slots=*/2, /*batch=*/true));
  broker_->Pass();
  ASSERT_EQ(SentTo("w").command, Command::kWelcome);
  port_.Push("c", wire::Make(Command::kSubmit, {{"id", 1},
                                                {"tasks", {{{"key", "k1"}, {"fn", "noop"}},
                                                           {{"key", "k2"}, {"fn", "noop"}}}}}));
  broker_->Pass();
  wire::Message tasks;
  for (auto& [to, m] : port_.Take()) {
    if (to == "w") tasks = m;
  }
  ASSERT_EQ(tasks.command, Command::kTasks) << tasks.body.dump();
  std::map<std::string, int64_t> attempt;
  for (const auto& t : tasks.body["tasks"]) attempt[t["key"]] = t["attempt"];
  ASSERT_EQ(attempt.size(), 2u);

  auto results = [&](std::string text, std::vector<std::string> blobs) {
    wire::Message m;
    m.command = Command::kResults;
    m.body_text = std::move(text);
    m.blobs = std::move(blobs);
    port_.Push("w", std::move(m));
    broker_->Pass();
    return port_.Take();
  };
  // Plain.
  auto sent = results(R"({"results":[{"attempt":)" + std::to_string(attempt["k1"]) +
                          R"(,"error":"","exit_code":0,"signal":0}]})",
                      {"one"});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second.command, Command::kAck);
  EXPECT_EQ(sent[0].second.body["attempts"], json::array({attempt["k1"]}));
  // Not plain (an escape in the error): parsed, and the same rules apply.
  sent = results(R"({"results": [{"attempt":)" + std::to_string(attempt["k2"]) +
                     R"(,"error":"said \"no\"","exit_code":1,"signal":0}]})",
                 {});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second.command, Command::kAck);
  // Malformed, then a bad item next to nothing else: clear errors.
  sent = results("{not json", {});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second.command, Command::kError);
  EXPECT_EQ(sent[0].second.body.value("message", ""), "malformed body of 'results': not a JSON object");
  sent = results(R"({"results":[{"attempt":"x","exit_code":0}]})", {});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second.command, Command::kError);
  EXPECT_NE(sent[0].second.body.value("message", "").find("results: item 0"), std::string::npos)
      << sent[0].second.body.dump();

  port_.Push("c", wire::Make(Command::kFetch, {{"id", 2}, {"key", "k1"}}));
  port_.Push("c", wire::Make(Command::kFetch, {{"id", 3}, {"key", "k2"}}));
  broker_->Pass();
  sent = port_.Take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].second.body.value("state", ""), "done");
  EXPECT_EQ(sent[0].second.blobs, std::vector<std::string>{"one"});
  EXPECT_EQ(sent[1].second.body.value("state", ""), "failed") << sent[1].second.body.dump();
}

}  // namespace
}  // namespace leaseq
