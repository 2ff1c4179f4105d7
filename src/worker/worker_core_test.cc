// The worker core on a manual clock, with a fake Link (the test plays the
// broker by putting messages into it) and fake processes that end when the
// test says. No socket, no fork, no real time: each test runs in
// milliseconds. worker_loop_test.cc runs the real loop end to end.
#include "worker/worker_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "worker/reconnect_timers.h"

namespace leaseq::worker {
namespace {

using wire::Command;
using nlohmann::json;

constexpr int64_t kHeartbeatMs = 100;
constexpr int64_t kSilenceMs = 300;  // heartbeat x liveness 3
constexpr int64_t kIdleMs = 5 * kHeartbeatMs;  // StartIdle's idle rate

// The broker's side of a connection, in memory, with the real reconnect
// timers (silence, then a backoff from 250 ms) so that the core's reactions
// can be seen.
class FakeLink final : public Link {
 public:
  Status Open(int64_t now_ms) override {
    open_ = true;
    inbox.clear();  // a new connection: what the old one held is gone
    timers_.Heard(now_ms);
    ++opens;
    return Status::Ok();
  }
  void Close(int) override {
    open_ = false;
    inbox.clear();
  }
  bool is_open() const override { return open_; }
  bool Send(const wire::Message& m) override {
    if (!open_) return false;
    sent.push_back(m);
    return true;
  }
  bool Receive(wire::Message* m, int64_t now_ms) override {
    if (!open_ || inbox.empty()) return false;
    *m = std::move(inbox.front());
    inbox.pop_front();
    timers_.Heard(now_ms);
    return true;
  }
  Event Tick(int64_t now_ms, int64_t silence_limit_ms) override {
    if (open_ && made_anew) {  // the socket monitor's word
      made_anew = false;
      timers_.Heard(now_ms);
      return Event::kReconnected;
    }
    if (open_ && timers_.Silent(now_ms, silence_limit_ms)) {
      Close(0);
      timers_.Lost(now_ms);
      return Event::kLost;
    }
    if (!open_ && timers_.ReopenDue(now_ms)) {
      (void)Open(now_ms);
      return Event::kReopened;
    }
    return Event::kNone;
  }
  bool HeardWithin(int64_t now_ms, int64_t limit_ms) const override {
    return open_ && timers_.HeardWithin(now_ms, limit_ms);
  }
  void ResetBackoff() override { timers_.ResetBackoff(); }
  int64_t NextDeadline(int64_t silence_limit_ms) const override {
    return timers_.NextDeadline(open_, silence_limit_ms);
  }
  const std::string& endpoint() const override { return endpoint_; }

  std::deque<wire::Message> inbox;  // from the broker, not yet received
  std::vector<wire::Message> sent;  // to the broker
  int opens = 0;
  bool made_anew = false;  // set: the next Tick() says the connection was made anew

 private:
  bool open_ = false;
  ReconnectTimers timers_;
  std::string endpoint_ = "fake";
};

// One fake process: the test ends it by setting outcome.
struct ProcState {
  ProcessSpec spec;
  std::optional<ProcessOutcome> outcome;  // set: it has ended
  bool terminated = false, killed = false, destroyed = false;
};

class FakeProcess final : public TaskProcess {
 public:
  explicit FakeProcess(std::shared_ptr<ProcState> s) : s_(std::move(s)) {}
  ~FakeProcess() override { s_->destroyed = true; }
  ProcessFds fds() const override { return {}; }
  void Pump() override {}
  void Reap() override {}
  void Terminate() override { s_->terminated = true; }
  void Kill() override {
    s_->killed = true;
    ProcessOutcome o;
    o.signal = SIGKILL;
    s_->outcome = o;
  }
  bool Finished() const override { return s_->outcome.has_value(); }
  ProcessOutcome TakeOutcome() override { return *s_->outcome; }

 private:
  std::shared_ptr<ProcState> s_;
};

class FakeStarter final : public ProcessStarter {
 public:
  Status Start(const ProcessSpec& spec, std::unique_ptr<TaskProcess>* out) override {
    if (!fail.empty()) return Status::IoError(fail);
    auto s = std::make_shared<ProcState>();
    s->spec = spec;
    started.push_back(s);
    *out = std::make_unique<FakeProcess>(s);
    return Status::Ok();
  }
  std::vector<std::shared_ptr<ProcState>> started;
  std::string fail;  // set: Start fails with this (the worker's own resources)
};

ProcessOutcome Exited(int code, std::string output = "") {
  ProcessOutcome o;
  o.exit_code = code;
  o.output = std::move(output);
  return o;
}

class WorkerCoreTest : public testing::Test {
 protected:
  WorkerCoreTest() {
    options_.name = "w1";
    options_.session = "s1";
    options_.slots = 1;
    options_.queues = {"default"};
    options_.heartbeat_ms = kHeartbeatMs;
    options_.liveness = 3;
    options_.drain_timeout_ms = 1000;
  }
  void Start() {
    core_ = std::make_unique<WorkerCore>(options_, link_, starter_, "sim-host", 4242);
    core_->set_log([this](const std::string& line) { logs_.push_back(line); });
    ASSERT_TRUE(core_->Start(now_).ok());
  }
  // Registers and is welcomed; what was sent so far is cleared.
  void StartWelcomed() {
    Start();
    ASSERT_EQ(Sent(Command::kRegister).size(), 1u);
    Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3},
                                          {"abandon", json::array()}}));
    Step();
    ASSERT_TRUE(core_->welcomed());
    link_.sent.clear();
  }
  // Registers, is welcomed with an idle rate of kIdleMs, and sends the
  // heartbeat that says it holds nothing: idle from then on.
  void StartIdle() {
    Start();
    Broker(wire::Make(Command::kWelcome,
                      {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}, {"idle_heartbeat_ms", kIdleMs}}));
    Step();
    RunFor(kHeartbeatMs + 1);
  }
  // The welcome to that register (its seq echoed), with the idle rate
  // unless !idle (a broker without one).
  void WelcomeTo(const wire::Message& reg, json abandon = json::array(), bool idle = true) {
    json body = {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}, {"abandon", abandon},
                 {"seq", reg.body["seq"]}};
    if (idle) body["idle_heartbeat_ms"] = kIdleMs;
    Broker(wire::Make(Command::kWelcome, body));
  }
  void Broker(wire::Message m) { link_.inbox.push_back(std::move(m)); }
  void Task(int64_t attempt, json extra = json::object()) {
    json body = {{"attempt", attempt}, {"key", "k" + std::to_string(attempt)},
                 {"attempt_no", 1}, {"cmd", {"sh", "-c", "true"}}};
    body.update(extra);
    Broker(wire::Make(Command::kTask, body, {"input"}));
  }
  void Ack(std::vector<int64_t> ids, bool goodbye = false) {
    json body = {{"attempts", ids}};
    if (goodbye) body["goodbye"] = true;
    Broker(wire::Make(Command::kAck, body));
  }
  void Step() { core_->Step(now_); }
  // Steps the core at each of its deadlines up to now_ + ms, a live broker
  // saying a word before each step unless `silent`. Every deadline must lie
  // ahead: a core whose deadline is now would spin (or stall a simulator).
  void RunFor(int64_t ms, bool silent = false) {
    const int64_t end = now_ + ms;
    while (now_ < end && !core_->done()) {
      const int64_t next = core_->NextDeadlineMs(now_);
      ASSERT_GT(next, now_);
      now_ = std::min(end, next);
      if (!silent) Broker(wire::Make(Command::kHeartbeat));
      Step();
    }
  }
  std::vector<wire::Message> Sent(Command c) const {
    std::vector<wire::Message> out;
    for (const auto& m : link_.sent) {
      if (m.command == c) out.push_back(m);
    }
    return out;
  }

  int64_t now_ = 1'000'000;
  WorkerOptions options_;
  FakeLink link_;
  FakeStarter starter_;
  std::unique_ptr<WorkerCore> core_;
  std::vector<std::string> logs_;
};

TEST_F(WorkerCoreTest, RegistersRunsATaskAndKeepsTheResultUntilAcked) {
  options_.prefetch = 1;  // room to hold the task sent before the welcome
  Start();
  auto reg = Sent(Command::kRegister);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].body["name"], "w1");
  EXPECT_EQ(reg[0].body["session"], "s1");
  EXPECT_EQ(reg[0].body["host"], "sim-host");
  EXPECT_EQ(reg[0].body["pid"], 4242);
  EXPECT_EQ(reg[0].body["slots"], 1);
  EXPECT_EQ(reg[0].body["running"], json::array());
  // Nothing runs before the welcome.
  Task(7);
  Step();
  EXPECT_TRUE(starter_.started.empty());
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}}));
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  const ProcessSpec& spec = starter_.started[0]->spec;
  EXPECT_EQ(spec.argv, (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_EQ(spec.input, "input");
  EXPECT_EQ(spec.env, (std::vector<std::pair<std::string, std::string>>{
                          {"LEASEQ_TASK_KEY", "k7"}, {"LEASEQ_ATTEMPT", "1"}}));
  EXPECT_EQ(core_->RunningIds(), std::vector<int64_t>{7});

  starter_.started[0]->outcome = Exited(3, "out");
  now_ += 10;
  Step();
  auto results = Sent(Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].body["attempt"], 7);
  EXPECT_EQ(results[0].body["exit_code"], 3);
  EXPECT_EQ(results[0].blobs, std::vector<std::string>{"out"});
  EXPECT_TRUE(core_->RunningIds().empty());
  EXPECT_EQ(core_->HeldIds(), std::vector<int64_t>{7});  // until acked

  // Not acknowledged: sent again after heartbeat x liveness, and listed by
  // every heartbeat (its lease must be renewed until the result gets through).
  RunFor(kSilenceMs);
  EXPECT_EQ(Sent(Command::kResult).size(), 2u);
  EXPECT_EQ(Sent(Command::kHeartbeat).back().body["running"], json({7}));
  Ack({7});
  RunFor(3 * kSilenceMs);
  EXPECT_EQ(Sent(Command::kResult).size(), 2u);  // acked: never again
  EXPECT_EQ(Sent(Command::kHeartbeat).back().body["running"], json::array());
  EXPECT_TRUE(core_->HeldIds().empty());
}

TEST_F(WorkerCoreTest, HeartbeatsListRunningAndQueuedAttempts) {
  options_.slots = 2;
  options_.prefetch = 1;
  StartWelcomed();
  Task(1);
  Task(2);
  Task(3);  // prefetched: no slot free
  Task(4);  // beyond the credit: released
  Step();
  EXPECT_EQ(starter_.started.size(), 2u);
  ASSERT_EQ(Sent(Command::kRelease).size(), 1u);
  EXPECT_EQ(Sent(Command::kRelease)[0].body["attempts"], json({4}));
  RunFor(kHeartbeatMs);
  auto hb = Sent(Command::kHeartbeat);
  ASSERT_FALSE(hb.empty());
  EXPECT_EQ(hb.back().body["running"], json({1, 2}));
  EXPECT_EQ(hb.back().body["queued"], json({3}));

  // A slot frees: the prefetched task starts, and a heartbeat says so at once.
  link_.sent.clear();
  starter_.started[0]->outcome = Exited(0);
  now_ += 1;
  Step();
  EXPECT_EQ(starter_.started.size(), 3u);
  hb = Sent(Command::kHeartbeat);
  ASSERT_EQ(hb.size(), 1u);
  EXPECT_EQ(hb[0].body["running"], json({1, 2, 3}));  // 1: its result is not acked yet
  EXPECT_EQ(hb[0].body["queued"], json::array());
}

TEST_F(WorkerCoreTest, DrainSaysNoSlotsReleasesAfterTheTimeoutAndLeavesAfterTheAcks) {
  options_.slots = 2;
  StartWelcomed();
  Task(1);
  Task(2);
  Step();
  ASSERT_EQ(starter_.started.size(), 2u);
  core_->OnSignal(SIGTERM);
  Step();
  EXPECT_TRUE(core_->draining());
  ASSERT_EQ(Sent(Command::kReady).size(), 1u);
  EXPECT_EQ(Sent(Command::kReady)[0].body["slots"], 0);
  // One task ends within the drain timeout: its result goes out as usual.
  RunFor(200);
  starter_.started[0]->outcome = Exited(0, "done");
  RunFor(1);
  ASSERT_EQ(Sent(Command::kResult).size(), 1u);
  EXPECT_TRUE(Sent(Command::kRelease).empty());
  // The other outlives it: killed and released, without blame.
  RunFor(1000);
  EXPECT_TRUE(starter_.started[1]->destroyed);
  ASSERT_EQ(Sent(Command::kRelease).size(), 1u);
  EXPECT_EQ(Sent(Command::kRelease)[0].body["attempts"], json({2}));
  // No goodbye while a result waits for its ack.
  EXPECT_TRUE(Sent(Command::kGoodbye).empty());
  EXPECT_FALSE(core_->done());
  Ack({1});
  RunFor(1);
  ASSERT_EQ(Sent(Command::kGoodbye).size(), 1u);
  // Waiting for the goodbye's ack, no heartbeat is due, and the deadline
  // still lies ahead (RunFor checks it).
  const size_t heartbeats = Sent(Command::kHeartbeat).size();
  RunFor(500);
  EXPECT_EQ(Sent(Command::kHeartbeat).size(), heartbeats);
  EXPECT_FALSE(core_->done());
  Ack({}, true);
  RunFor(1);
  EXPECT_TRUE(core_->done());
  EXPECT_TRUE(core_->Finish().ok());
  EXPECT_FALSE(link_.is_open());
  EXPECT_EQ(Sent(Command::kGoodbye).size(), 1u);  // acked: not said again
}

TEST_F(WorkerCoreTest, AnUnacknowledgedGoodbyeLeavesAfterTheAckWait) {
  StartWelcomed();
  core_->OnSignal(SIGINT);
  Step();
  RunFor(1);
  ASSERT_EQ(Sent(Command::kGoodbye).size(), 1u);
  RunFor(1990);  // the ack wait: 2 s (more than the rest of the drain timeout)
  EXPECT_FALSE(core_->done());
  RunFor(1000);
  EXPECT_TRUE(core_->done());
  EXPECT_TRUE(core_->Finish().ok());
  EXPECT_EQ(Sent(Command::kGoodbye).size(), 2u);  // the best-effort one on the way out
}

TEST_F(WorkerCoreTest, ASecondSignalCutsTheDrainShort) {
  StartWelcomed();
  Task(1);
  Step();
  core_->OnSignal(SIGTERM);
  Step();
  core_->OnSignal(SIGTERM);
  Step();
  EXPECT_TRUE(core_->done());
  EXPECT_TRUE(starter_.started[0]->destroyed);
  EXPECT_EQ(Sent(Command::kRelease)[0].body["attempts"], json({1}));
  EXPECT_TRUE(core_->Finish().ok());
}

// Bug C of docs/reliability.md: a draining worker that is leased a task must
// say again that it has no slots before handing the task back, or a broker
// that believes otherwise leases it straight back (a lease/release storm).
TEST_F(WorkerCoreTest, ADrainingWorkerAnswersATaskWithNoSlotsThenARelease) {
  StartWelcomed();
  core_->OnSignal(SIGTERM);
  Step();
  link_.sent.clear();
  Task(9);
  Step();
  ASSERT_GE(link_.sent.size(), 2u);
  EXPECT_EQ(link_.sent[0].command, Command::kReady);
  EXPECT_EQ(link_.sent[0].body["slots"], 0);
  EXPECT_EQ(link_.sent[1].command, Command::kRelease);
  EXPECT_EQ(link_.sent[1].body["attempts"], json({9}));
  EXPECT_TRUE(starter_.started.empty());
}

// A step long after the previous one (SIGSTOP, a suspended VM): the broker
// may have declared the worker lost and leased its tasks elsewhere. It
// registers again, and what reached it before starts only once the welcome
// says it is still its own.
// Found by the simulator (leaseq-sim --seed 271): registers queued during a
// partition were welcomed while the worker was frozen; thawed, it took the
// waiting welcome for an answer to its new register and started a task
// lost meanwhile.
TEST_F(WorkerCoreTest, AWelcomeWaitingSinceBeforeAFreezeStartsNothing) {
  StartWelcomed();  // register seq 1
  now_ += kSilenceMs + 200;
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3},
                                        {"abandon", json::array()}, {"seq", 1}}));
  Task(2);
  Step();
  EXPECT_FALSE(core_->welcomed());
  EXPECT_TRUE(starter_.started.empty());
  auto reg = Sent(Command::kRegister);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].body["seq"], 2);
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3},
                                        {"abandon", {2}}, {"seq", 2}}));
  now_ += 1;
  Step();
  EXPECT_TRUE(core_->welcomed());
  EXPECT_TRUE(starter_.started.empty());  // 2 was not ours any more
}

TEST_F(WorkerCoreTest, AFreezeRegistersAgainAndStartsNothingUntilTheWelcome) {
  options_.prefetch = 2;
  StartWelcomed();
  Task(1);
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  // Frozen for longer than heartbeat x liveness; meanwhile the broker sent
  // two tasks, now waiting in the socket.
  now_ += kSilenceMs + 200;
  Task(2);
  Task(3);
  Step();
  EXPECT_FALSE(core_->welcomed());
  EXPECT_EQ(logs_.back(), "frozen for 500 ms: registering again");
  auto reg = Sent(Command::kRegister);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].body["running"], json({1}));
  EXPECT_EQ(starter_.started.size(), 1u);
  EXPECT_TRUE(Sent(Command::kHeartbeat).empty());
  // A slot frees before the welcome: still nothing starts.
  starter_.started[0]->outcome = Exited(0);
  now_ += 1;
  Step();
  EXPECT_EQ(starter_.started.size(), 1u);
  EXPECT_TRUE(Sent(Command::kResult).empty());  // offline: it waits for the welcome
  // The welcome: 2 was leased elsewhere meanwhile; 3 is still ours.
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3},
                                        {"abandon", {2}}}));
  now_ += 1;
  Step();
  EXPECT_TRUE(core_->welcomed());
  ASSERT_EQ(starter_.started.size(), 2u);
  EXPECT_EQ(starter_.started[1]->spec.env[0].second, "k3");
  EXPECT_EQ(Sent(Command::kResult).size(), 1u);  // re-sent after the welcome
}

TEST_F(WorkerCoreTest, ASilentBrokerIsReconnectedToAndRegisteredWithKeepingTheTask) {
  StartWelcomed();
  Task(1);
  Step();
  RunFor(kSilenceMs, /*silent=*/true);
  EXPECT_FALSE(core_->welcomed());
  EXPECT_FALSE(link_.is_open());
  RunFor(300, /*silent=*/true);  // the first backoff is 250 ms
  EXPECT_EQ(link_.opens, 2);
  auto reg = Sent(Command::kRegister);
  ASSERT_FALSE(reg.empty());
  EXPECT_EQ(reg.back().body["running"], json({1}));
  EXPECT_FALSE(starter_.started[0]->destroyed);
}

// A broker restart (issue 12): reregisters answering messages sent before
// the register are answered by its welcome too; registering again while
// welcomed would make the broker release every task on its way to us.
TEST_F(WorkerCoreTest, ReregistersAnsweredBeforeTheWelcomeDoNotRegisterAgain) {
  StartWelcomed();
  Broker(wire::Make(Command::kReregister));
  RunFor(kHeartbeatMs);  // at most one register per heartbeat
  ASSERT_EQ(Sent(Command::kRegister).size(), 1u);
  Broker(wire::Make(Command::kReregister));  // stale: for a message sent before
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}}));
  RunFor(1000);
  EXPECT_TRUE(core_->welcomed());
  EXPECT_EQ(Sent(Command::kRegister).size(), 1u);
  EXPECT_GE(Sent(Command::kHeartbeat).size(), 9u);
}

// A register that got no welcome is sent again every heartbeat, even while
// the broker is heard, listing what the worker holds.
TEST_F(WorkerCoreTest, ARegisterWithoutAWelcomeIsSentAgainEveryHeartbeat) {
  StartWelcomed();
  Task(31);
  Step();
  starter_.started[0]->outcome = Exited(0);
  RunFor(1);
  ASSERT_EQ(Sent(Command::kResult).size(), 1u);  // not acked
  Broker(wire::Make(Command::kReregister));
  RunFor(kHeartbeatMs);
  ASSERT_EQ(Sent(Command::kRegister).size(), 1u);  // "lost": no welcome
  RunFor(kHeartbeatMs);
  auto reg = Sent(Command::kRegister);
  ASSERT_EQ(reg.size(), 2u);
  EXPECT_EQ(reg[1].body["running"], json({31}));  // the finished attempt is still held
  EXPECT_EQ(Sent(Command::kResult).size(), 1u);   // not welcomed: held back
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}}));
  RunFor(1);
  EXPECT_EQ(Sent(Command::kResult).size(), 2u);  // re-sent after the welcome
}

TEST_F(WorkerCoreTest, AbortAndAbandonKillWhatIsNoLongerOurs) {
  options_.slots = 2;
  StartWelcomed();
  Task(1);
  Task(2);
  Step();
  Broker(wire::Make(Command::kAbort, {{"attempts", {1}}}));
  RunFor(1);
  EXPECT_TRUE(starter_.started[0]->destroyed);
  EXPECT_EQ(core_->RunningIds(), std::vector<int64_t>{2});
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}, {"abandon", {2}}}));
  RunFor(1);
  EXPECT_TRUE(starter_.started[1]->destroyed);
  EXPECT_TRUE(core_->HeldIds().empty());
  EXPECT_TRUE(Sent(Command::kResult).empty());
}

TEST_F(WorkerCoreTest, ANameInUseEndsTheRunWithoutAGoodbye) {
  Start();
  Broker(wire::Make(Command::kError, {{"code", wire::kNameInUse},
                                      {"message", "name 'w1' is in use by pid 1 on host h"}}));
  Step();
  EXPECT_TRUE(core_->done());
  Status s = core_->Finish();
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("in use by pid 1"), std::string::npos);
  EXPECT_TRUE(Sent(Command::kGoodbye).empty());
}

TEST_F(WorkerCoreTest, ACommandPastItsLimitIsTerminatedThenKilledAndFails) {
  StartWelcomed();
  Task(1, {{"timeout_ms", 1000}});
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  RunFor(999);
  EXPECT_FALSE(starter_.started[0]->terminated);
  RunFor(1);
  EXPECT_TRUE(starter_.started[0]->terminated);
  EXPECT_FALSE(starter_.started[0]->killed);
  RunFor(2000);  // config::kTimeoutGraceMs: it ignored SIGTERM
  EXPECT_TRUE(starter_.started[0]->killed);
  auto results = Sent(Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].body["error"],
            "timed out after 1s (SIGTERM, then SIGKILL 2s later, to its process group)");
}

TEST_F(WorkerCoreTest, ACommandStoppingAtSigtermPastItsLimitFails) {
  StartWelcomed();
  Task(1, {{"timeout_ms", 1000}});
  Step();
  RunFor(1000);
  ASSERT_TRUE(starter_.started[0]->terminated);
  ProcessOutcome o;
  o.signal = SIGTERM;
  o.error = "bye\n";
  starter_.started[0]->outcome = o;
  RunFor(1);
  auto results = Sent(Command::kResult);
  ASSERT_EQ(results.size(), 1u);  // at once: no hold for our own SIGTERM
  EXPECT_EQ(results[0].body["error"],
            "timed out after 1s (SIGTERM to its process group); stderr: bye\n");
  EXPECT_EQ(results[0].body["signal"], 0);
}

// Found by the simulator (leaseq-sim --seed 410): a worker stalled past a
// task's limit reported a command that had exited in time as timed out.
TEST_F(WorkerCoreTest, ACommandThatEndedDuringAStallPastItsLimitSucceeds) {
  StartWelcomed();
  Task(1, {{"timeout_ms", 200}});
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  starter_.started[0]->outcome = Exited(0, "in time");  // while nobody looked
  now_ += 350;  // the next step comes late (under the freeze threshold)
  Step();
  EXPECT_FALSE(starter_.started[0]->terminated);
  auto results = Sent(Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].body["exit_code"], 0);
  EXPECT_EQ(results[0].body["error"], "");
}

TEST_F(WorkerCoreTest, WhatCannotStartIsAFailedAttempt) {
  options_.slots = 2;
  StartWelcomed();
  starter_.fail = "cannot create a pipe: Too many open files";
  Task(1);
  Broker(wire::Make(Command::kTask, {{"attempt", 2}, {"key", "k2"}, {"attempt_no", 1},
                                     {"fn", "upper"}}));
  Step();
  auto results = Sent(Command::kResult);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].body["attempt"], 1);
  EXPECT_EQ(results[0].body["error"], "cannot create a pipe: Too many open files");
  EXPECT_EQ(results[1].body["attempt"], 2);
  EXPECT_EQ(results[1].body["error"], "this worker has no in-process function 'upper'");
  EXPECT_TRUE(core_->RunningIds().empty());
}

// Slurm's preemption signals every process of the job: a task that dies of
// SIGTERM just before the worker's own SIGTERM arrives was stopped with it.
TEST_F(WorkerCoreTest, ATaskEndedBySigtermIsHeldThenReleasedIfTheWorkerDrains) {
  StartWelcomed();
  Task(1);
  Task(2);
  Step();
  ProcessOutcome term;
  term.signal = SIGTERM;
  starter_.started[0]->outcome = term;
  RunFor(500);
  EXPECT_TRUE(Sent(Command::kResult).empty());  // held
  core_->OnSignal(SIGTERM);
  RunFor(1);
  EXPECT_TRUE(Sent(Command::kResult).empty());
  auto released = Sent(Command::kRelease);
  ASSERT_FALSE(released.empty());
  EXPECT_EQ(released.back().body["attempts"], json({1}));
}

TEST_F(WorkerCoreTest, ATaskEndedBySigtermWhileRunningIsAFailureAfterTheHold) {
  StartWelcomed();
  Task(1);
  Step();
  ProcessOutcome term;
  term.signal = SIGTERM;
  starter_.started[0]->outcome = term;
  Step();
  RunFor(999);
  EXPECT_TRUE(Sent(Command::kResult).empty());
  RunFor(1);
  ASSERT_EQ(Sent(Command::kResult).size(), 1u);
  EXPECT_EQ(Sent(Command::kResult)[0].body["signal"], SIGTERM);
}

// The idle rate (docs/protocol.md): welcomed with idle_heartbeat_ms, a
// worker that holds nothing heartbeats that much less often after a
// heartbeat that listed nothing, gives the broker idle x liveness, and is
// back at the normal rate as soon as a task comes.
TEST_F(WorkerCoreTest, AnIdleWorkerHeartbeatsAtTheIdleRateUntilATaskComes) {
  Start();
  EXPECT_EQ(Sent(Command::kRegister)[0].body["idle_heartbeats"], true);
  const int64_t idle_ms = 5 * kHeartbeatMs;
  Broker(wire::Make(Command::kWelcome,
                    {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}, {"idle_heartbeat_ms", idle_ms}}));
  Step();
  link_.sent.clear();
  // The first heartbeat, at the normal rate, says it holds nothing; the
  // next ones come every idle_ms, even with the broker silent for longer
  // than the normal limit.
  RunFor(kHeartbeatMs, /*silent=*/true);
  ASSERT_EQ(Sent(Command::kHeartbeat).size(), 1u);
  EXPECT_EQ(Sent(Command::kHeartbeat)[0].body["running"], json::array());
  RunFor(2 * idle_ms, /*silent=*/true);
  EXPECT_EQ(Sent(Command::kHeartbeat).size(), 3u);  // 1 + 2, not 1 + 10
  EXPECT_EQ(link_.opens, 1) << "the broker was given idle x liveness, not x liveness";
  // Silent past idle x liveness: it gives the broker up.
  RunFor(idle_ms + 10, /*silent=*/true);
  EXPECT_EQ(link_.opens, 1);
  RunFor(300, /*silent=*/true);  // the reconnect backoff
  EXPECT_EQ(link_.opens, 2);
}

TEST_F(WorkerCoreTest, ATaskEndsTheIdleRateAndOneAfterALongSilenceWaitsForAWelcome) {
  StartIdle();  // the heartbeat that says it holds nothing
  link_.sent.clear();
  // A task 2 x heartbeat after that heartbeat: started, and a heartbeat
  // listing it goes at once (its normal one was due a heartbeat after the last).
  now_ += 2 * kHeartbeatMs;
  Task(1);
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  ASSERT_EQ(Sent(Command::kHeartbeat).size(), 1u);
  EXPECT_EQ(Sent(Command::kHeartbeat)[0].body["running"], json({1}));
  // Done and acknowledged: the next heartbeat (normal rate) lists nothing,
  // and the one after it comes at the idle rate.
  starter_.started[0]->outcome = Exited(0);
  Step();
  Ack({1});
  Step();
  link_.sent.clear();
  RunFor(kHeartbeatMs, /*silent=*/true);
  ASSERT_EQ(Sent(Command::kHeartbeat).size(), 1u);
  EXPECT_EQ(Sent(Command::kHeartbeat)[0].body["running"], json::array());
  RunFor(kIdleMs - 1, /*silent=*/true);
  EXPECT_EQ(Sent(Command::kHeartbeat).size(), 1u);
  // A task after more than two lease lifetimes without a word from the
  // broker: it may have waited on the way while its lease lapsed. The
  // worker registers again (listing it as queued) and starts it only once
  // the welcome says it is still its own.
  RunFor(2 * kSilenceMs - kIdleMs + 2, /*silent=*/true);
  link_.sent.clear();
  Task(2);
  Step();
  EXPECT_EQ(starter_.started.size(), 1u);
  ASSERT_EQ(Sent(Command::kRegister).size(), 1u);
  EXPECT_EQ(Sent(Command::kRegister)[0].body["queued"], json({2}));
  WelcomeTo(Sent(Command::kRegister)[0]);
  Step();
  EXPECT_EQ(starter_.started.size(), 2u);
}

// At the idle rate the link stays open through a silence longer than a
// lease. A task that comes when the broker's last word is older than a
// lease (less a heartbeat for that word's way) may have been sent at the
// start of a partition and reclaimed since (the simulator, seeds
// 1796200033807 and 1796100035007: started 617 ms after it was lost); one
// that comes sooner cannot have lapsed and starts at once.
TEST_F(WorkerCoreTest, AtTheIdleRateATaskAfterALeaseOfSilenceWaitsForAWelcome) {
  StartIdle();  // the heartbeat that says it holds nothing
  ASSERT_TRUE(core_->welcomed());
  link_.sent.clear();
  // The broker's last word 150 ms ago: the task starts.
  now_ += kSilenceMs - kHeartbeatMs - 50;
  Task(1);
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  EXPECT_TRUE(Sent(Command::kRegister).empty());
  starter_.started[0]->outcome = Exited(0);
  Step();
  Ack({1});
  Step();
  RunFor(kHeartbeatMs + 1);  // idle again, the broker heard just now
  link_.sent.clear();
  // 250 ms: held, listed by a new register, dropped by its welcome.
  now_ += kSilenceMs - kHeartbeatMs + 50;
  Task(2);
  Step();
  EXPECT_EQ(starter_.started.size(), 1u);
  const auto registers = Sent(Command::kRegister);
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].body["queued"], json({2}));
  WelcomeTo(registers[0], json({2}));
  Step();
  EXPECT_EQ(starter_.started.size(), 1u);
  EXPECT_TRUE(core_->QueuedIds().empty());
}

// The same, when the backlog comes over two steps (the simulator, seed
// 1797000036783): a broker heartbeat held up with the task arrives first,
// after a lease of silence, and the task 20 ms later; measured from that
// heartbeat the task looked fresh, and ran 608 ms after it was lost. Once a
// welcome has answered, a task the same heartbeat later starts at once.
TEST_F(WorkerCoreTest, AtTheIdleRateATaskJustBehindAWordAfterALeaseOfSilenceWaitsForAWelcome) {
  StartIdle();
  link_.sent.clear();
  now_ += kSilenceMs - kHeartbeatMs + 50;
  Broker(wire::Make(Command::kHeartbeat));
  Step();
  EXPECT_TRUE(Sent(Command::kRegister).empty());  // a word alone costs nothing
  now_ += 20;
  Task(1);
  Step();
  EXPECT_TRUE(starter_.started.empty());
  const auto registers = Sent(Command::kRegister);
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].body["queued"], json({1}));
  WelcomeTo(registers[0], json({1}));
  now_ += 1;
  Step();
  EXPECT_TRUE(core_->QueuedIds().empty());
  now_ += 1;
  Task(2);
  Step();
  EXPECT_EQ(starter_.started.size(), 1u);
}

// A task for a free slot that must wait for a welcome is held, within the
// credit the worker gave, even with no prefetch (a fresh worker's is 0):
// handed back, it would cost an attempt more (a delayed task to an idle
// worker showed 2 attempts in TimeLimits tests).
TEST_F(WorkerCoreTest, ATaskForAFreeSlotWaitsForTheWelcomeWithoutAPrefetch) {
  StartIdle();
  link_.sent.clear();
  now_ += kSilenceMs;
  Task(1);
  Step();
  EXPECT_TRUE(starter_.started.empty());
  EXPECT_TRUE(Sent(Command::kRelease).empty());
  const auto registers = Sent(Command::kRegister);
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].body["queued"], json({1}));
  WelcomeTo(registers[0]);
  Step();
  EXPECT_EQ(starter_.started.size(), 1u);
}

// Held up together by a partition, a broker heartbeat ahead of the task
// (even in an earlier step) does not make the task fresh (the simulator,
// seeds 138 and 1420); the welcome's abandon[] drops it.
TEST_F(WorkerCoreTest, ATaskBehindALongSilenceWaitsForTheWelcomeWhateverCameBeforeIt) {
  Start();
  Broker(wire::Make(Command::kWelcome,
                    {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}, {"idle_heartbeat_ms", 5 * kHeartbeatMs}}));
  Step();
  RunFor(kHeartbeatMs + 1);  // at the idle rate from its first heartbeat
  RunFor(2 * kSilenceMs + 1, /*silent=*/true);
  link_.sent.clear();
  Broker(wire::Make(Command::kHeartbeat));
  Step();
  now_ += 2;
  Task(1);
  Step();
  EXPECT_TRUE(starter_.started.empty());
  // The register sent on the broker's word, then one that lists the task
  // held up behind it: only a welcome to that one says whether it is ours.
  const auto registers = Sent(Command::kRegister);
  ASSERT_FALSE(registers.empty());
  EXPECT_EQ(registers.back().body["queued"], json({1}));
  WelcomeTo(registers.back(), json({1}), /*idle=*/false);
  Step();
  EXPECT_TRUE(starter_.started.empty());
  EXPECT_TRUE(core_->QueuedIds().empty());
}

// A broker restart while a partition held up what its previous run had sent
// (found by the simulator, seed 1796081942802): the tasks come after the
// register sent on the reconnection, which does not list them, so the
// welcome to that register cannot say whether they are ours; they were in
// fact reclaimed while the partition lasted.
TEST_F(WorkerCoreTest, ATaskThatComesBeforeTheWelcomeWaitsForAWelcomeToARegisterListingIt) {
  StartWelcomed();
  link_.made_anew = true;
  Step();
  auto registers = Sent(Command::kRegister);
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].body["queued"], json::array());
  Task(1);
  WelcomeTo(registers[0], json::array(), /*idle=*/false);
  Step();
  Step();
  EXPECT_FALSE(core_->welcomed());
  EXPECT_TRUE(starter_.started.empty());
  registers = Sent(Command::kRegister);
  ASSERT_EQ(registers.size(), 2u);
  EXPECT_EQ(registers[1].body["queued"], json({1}));
  WelcomeTo(registers[1], json({1}), /*idle=*/false);
  Step();
  EXPECT_TRUE(core_->welcomed());
  EXPECT_TRUE(starter_.started.empty());
  EXPECT_TRUE(core_->QueuedIds().empty());
}

// A stall shorter than a freeze, past the silence check (found by the
// simulator, seed 1796900032786): a busy worker cut off from the broker was
// stopped for 691 ms, 9 ms short of a freeze; thawed, it read what the cut
// had held, tasks reclaimed meanwhile among it, before the silence check ran,
// and started them.
TEST_F(WorkerCoreTest, AStallPastTheSilenceCheckStartsNothingUntilTheWelcome) {
  options_.slots = 2;
  StartWelcomed();
  Task(1);
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  RunFor(kSilenceMs - 20, /*silent=*/true);
  ASSERT_TRUE(link_.is_open());
  // Stalled for less than a freeze, the silence now past its limit by more
  // than a step's gap; the cut ends meanwhile and delivers a task.
  now_ += kMaxStepGapMs + 50;
  Task(2);
  Step();
  EXPECT_FALSE(core_->welcomed());
  EXPECT_EQ(starter_.started.size(), 1u);
  auto registers = Sent(Command::kRegister);
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].body["running"], json({1}));
  EXPECT_EQ(registers[0].body["queued"], json({2}));
  WelcomeTo(registers[0], json({2}), /*idle=*/false);
  now_ += 1;
  Step();
  EXPECT_TRUE(core_->welcomed());
  EXPECT_EQ(starter_.started.size(), 1u);  // 2 was leased elsewhere meanwhile
  EXPECT_TRUE(core_->QueuedIds().empty());
}

// A welcome without idle_heartbeat_ms (an older broker): the normal rate.
TEST_F(WorkerCoreTest, WithoutAnIdleRateFromTheBrokerTheRateStaysNormal) {
  StartWelcomed();
  RunFor(10 * kHeartbeatMs);
  EXPECT_GE(Sent(Command::kHeartbeat).size(), 9u);
}

// A task body as the broker sends it, alone or in a `tasks` frame.
json TaskBody(int64_t attempt) {
  return {{"attempt", attempt}, {"key", "k" + std::to_string(attempt)},
          {"attempt_no", 1}, {"cmd", {"sh", "-c", "true"}}};
}

TEST_F(WorkerCoreTest, ABatchedTaskFrameIsEachTaskAsIfItCameAlone) {
  options_.slots = 2;
  options_.prefetch = 1;
  Start();
  EXPECT_EQ(Sent(Command::kRegister)[0].body["batch"], true);  // it takes `tasks` frames
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}}));
  Step();
  link_.sent.clear();
  // Two start, one is prefetched, a bad one is skipped (and logged), the
  // last is beyond the credit: released. Blob i is tasks[i]'s stdin; the
  // trailing ones are left out (no stdin).
  json bad = TaskBody(9);
  bad["attempt_no"] = "first";
  Broker(wire::Make(Command::kTasks,
                    {{"tasks", {TaskBody(1), TaskBody(2), bad, TaskBody(3), TaskBody(4)}}},
                    {"in1", "", "in9"}));
  Step();
  ASSERT_EQ(starter_.started.size(), 2u);
  EXPECT_EQ(starter_.started[0]->spec.input, "in1");
  EXPECT_EQ(starter_.started[1]->spec.input, "");
  EXPECT_EQ(starter_.started[1]->spec.env[0].second, "k2");
  EXPECT_EQ(core_->RunningIds(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(core_->QueuedIds(), std::vector<int64_t>{3});
  ASSERT_EQ(Sent(Command::kRelease).size(), 1u);
  EXPECT_EQ(Sent(Command::kRelease)[0].body["attempts"], json({4}));
  EXPECT_NE(std::find_if(logs_.begin(), logs_.end(),
                         [](const std::string& l) {
                           return l == "ignoring a bad task of a batch from the broker: task: "
                                       "field 'attempt_no' must be an integer";
                         }),
            logs_.end());
  // The same frame again (a duplicate delivery) starts nothing twice.
  Broker(wire::Make(Command::kTasks, {{"tasks", {TaskBody(1), TaskBody(3)}}}));
  Step();
  EXPECT_EQ(starter_.started.size(), 2u);
  EXPECT_EQ(core_->QueuedIds(), std::vector<int64_t>{3});

  // A frame with more blobs than tasks: whose stdin is whose is unknown, so
  // none of it runs (its leases lapse and the tasks go back to the queue).
  Broker(wire::Make(Command::kTasks, {{"tasks", {TaskBody(5)}}}, {"a", "b"}));
  Step();
  EXPECT_EQ(core_->QueuedIds(), std::vector<int64_t>{3});
  EXPECT_EQ(logs_.back(), "ignoring a bad message from the broker: tasks: 2 blobs for 1 item(s): at most one each");
}

TEST_F(WorkerCoreTest, ResultsFinishedInOneStepGoInOneFrameAndAreResentTogether) {
  options_.slots = 3;
  Start();
  // This broker takes `results` frames.
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}, {"batch", true}}));
  Step();
  link_.sent.clear();
  Broker(wire::Make(Command::kTasks, {{"tasks", {TaskBody(1), TaskBody(2), TaskBody(3)}}}));
  Step();
  ASSERT_EQ(starter_.started.size(), 3u);
  starter_.started[0]->outcome = Exited(0, "one");
  starter_.started[1]->outcome = Exited(1);
  starter_.started[2]->outcome = Exited(0, "three");
  now_ += 1;
  Step();
  EXPECT_TRUE(Sent(Command::kResult).empty());
  auto frames = Sent(Command::kResults);
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0].body["results"].size(), 3u);
  EXPECT_EQ(frames[0].body["results"][1]["attempt"], 2);
  EXPECT_EQ(frames[0].body["results"][1]["exit_code"], 1);
  EXPECT_EQ(frames[0].blobs, (std::vector<std::string>{"one", "", "three"}));
  // Held until acknowledged, each: 2 is acked, 1 and 3 are not.
  Ack({2});
  Step();
  EXPECT_EQ(core_->HeldIds(), (std::vector<int64_t>{1, 3}));

  // The broker goes silent: reconnect, register listing both, and after
  // the welcome both are sent again in one frame.
  link_.sent.clear();
  RunFor(kSilenceMs + 300, /*silent=*/true);
  auto reg = Sent(Command::kRegister);
  ASSERT_FALSE(reg.empty());
  EXPECT_EQ(reg.back().body["running"], json({1, 3}));
  link_.sent.clear();
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}, {"batch", true}}));
  Step();
  frames = Sent(Command::kResults);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].body["results"][0]["attempt"], 1);
  EXPECT_EQ(frames[0].body["results"][1]["attempt"], 3);
  EXPECT_EQ(frames[0].blobs, (std::vector<std::string>{"one", "three"}));

  // A broker without batches (its welcome says nothing): one by one.
  link_.sent.clear();
  Broker(wire::Make(Command::kReregister));
  Step();
  RunFor(kHeartbeatMs);
  Broker(wire::Make(Command::kWelcome, {{"heartbeat_ms", kHeartbeatMs}, {"liveness", 3}}));
  Step();
  EXPECT_TRUE(Sent(Command::kResults).empty());
  ASSERT_EQ(Sent(Command::kResult).size(), 2u);
  EXPECT_EQ(Sent(Command::kResult)[1].blobs, std::vector<std::string>{"three"});
  Ack({1, 3});
  RunFor(3 * kSilenceMs);
  EXPECT_EQ(Sent(Command::kResult).size(), 2u);
  EXPECT_TRUE(core_->HeldIds().empty());
}

TEST_F(WorkerCoreTest, DestroyingTheCoreKillsItsProcessesAndSendsNothing) {
  StartWelcomed();
  Task(1);
  Step();
  link_.sent.clear();
  core_.reset();
  EXPECT_TRUE(starter_.started[0]->destroyed);
  EXPECT_TRUE(link_.sent.empty());
}

}  // namespace
}  // namespace leaseq::worker

namespace leaseq::worker {
namespace {

// Without --prefetch: instant tasks deepen the prefetch (announced with
// `ready`), and when every slot runs a long one it drops to none at once,
// the held tasks handed back after the new credit.
TEST_F(WorkerCoreTest, WithoutPrefetchShortTasksDeepenItAndLongOnesDropItAtOnce) {
  options_.slots = 2;
  StartWelcomed();
  Task(1);
  Step();
  ASSERT_EQ(starter_.started.size(), 1u);
  starter_.started[0]->outcome = Exited(0);
  Step();  // ended within the step: a run time of 0
  auto ready = Sent(Command::kReady);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].body["slots"], 2);
  EXPECT_EQ(ready[0].body["prefetch"], AdaptivePrefetch::MaxFor(2));
  // More than slots x 2 held: none handed back.
  for (int64_t id = 2; id <= 11; ++id) Task(id);
  Step();
  EXPECT_EQ(starter_.started.size(), 3u);
  EXPECT_EQ(core_->QueuedIds().size(), 8u);
  EXPECT_TRUE(Sent(Command::kRelease).empty());
  // Tasks 2 and 3 run on past LongAfterMs: no slot is free for long.
  link_.sent.clear();
  RunFor(4 * AdaptivePrefetch::kBudgetMs + 5);
  ready = Sent(Command::kReady);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].body["prefetch"], 0);
  auto released = Sent(Command::kRelease);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].body["attempts"], json({11, 10, 9, 8, 7, 6, 5, 4}));
  const auto ready_at = std::find_if(link_.sent.begin(), link_.sent.end(),
                                     [](const wire::Message& m) { return m.command == Command::kReady; });
  const auto release_at = std::find_if(link_.sent.begin(), link_.sent.end(),
                                       [](const wire::Message& m) { return m.command == Command::kRelease; });
  EXPECT_LT(ready_at - link_.sent.begin(), release_at - link_.sent.begin()) << "credit first";
  EXPECT_TRUE(core_->QueuedIds().empty());
  EXPECT_EQ(core_->RunningIds(), (std::vector<int64_t>{2, 3}));
  // A task still in flight under the old credit is handed back too.
  Task(12);
  Step();
  EXPECT_EQ(Sent(Command::kRelease).back().body["attempts"], json({12}));
}

// A lower prefetch with slots free hands nothing back: what it holds runs
// here soon, and what the broker leased before it read the `ready` is kept.
TEST_F(WorkerCoreTest, WithoutPrefetchALowerFigureAloneReleasesNothing) {
  options_.slots = 1;
  StartWelcomed();
  int64_t id = 1;
  auto run = [&](int64_t ms) {  // one task of ms, alone
    Task(id++);
    Step();
    now_ += ms;
    starter_.started.back()->outcome = Exited(0);
    Step();
  };
  for (int i = 0; i < AdaptivePrefetch::kWindow; ++i) run(1);  // 25 / 1
  ASSERT_EQ(Sent(Command::kReady).back().body["prefetch"], 25);
  // Twenty tasks held behind a running one.
  for (int i = 0; i < 21; ++i) Task(id++);
  Step();
  ASSERT_EQ(core_->QueuedIds().size(), 20u);
  // Run times of 5 ms: 5 held at most from now on. Tasks keep coming (as
  // leased before the broker read each `ready`): held, not bounced.
  for (int i = 0; i < AdaptivePrefetch::kWindow; ++i) {
    Task(id++);
    now_ += 5;
    starter_.started.back()->outcome = Exited(0);
    Step();
  }
  EXPECT_EQ(Sent(Command::kReady).back().body["prefetch"], 5);
  EXPECT_TRUE(Sent(Command::kRelease).empty());
  // Leased under the old credit, on its way: kept.
  for (int i = 0; i < 3; ++i) Task(id++);
  Step();
  EXPECT_TRUE(Sent(Command::kRelease).empty());
}

TEST_F(WorkerCoreTest, AnExplicitPrefetchIsKeptWhateverTheRunTimes) {
  options_.slots = 2;
  options_.prefetch = 2;
  StartWelcomed();
  Task(1);
  Step();
  starter_.started[0]->outcome = Exited(0);
  Step();
  for (int64_t id = 2; id <= 6; ++id) Task(id);
  Step();
  EXPECT_EQ(core_->QueuedIds(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(Sent(Command::kRelease).back().body["attempts"], json({6}));
  RunFor(10 * AdaptivePrefetch::kBudgetMs);
  EXPECT_TRUE(Sent(Command::kReady).empty());
  EXPECT_EQ(core_->QueuedIds(), (std::vector<int64_t>{4, 5}));
}

}  // namespace
}  // namespace leaseq::worker
