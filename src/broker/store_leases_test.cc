// Tests of leases (store_leases.cc): claims, results, losses and their blame,
// releases, renewals, expiry, and the workers that hold the leases.

#include "broker/store.h"

#include <gtest/gtest.h>

#include "broker/store_test_util.h"

namespace leaseq::testing {
namespace {

// ---------------------------------------------------------------- claim

TEST_F(StoreTest, ClaimTakesHighestPriorityFirstThenOldest) {
  std::vector<TaskSpec> tasks;
  for (auto [key, prio] : std::vector<std::pair<std::string, int>>{
           {"low1", 0}, {"high1", 5}, {"low2", 0}, {"mid", 1}, {"high2", 5}, {"neg", -3}}) {
    tasks.push_back(Task(key));
    tasks.back().priority = prio;
  }
  ASSERT_OK(Submit(tasks));
  std::vector<std::string> order;
  for (const auto& a : Claim("w1")) order.push_back(a.key);
  EXPECT_EQ(order, (std::vector<std::string>{"high1", "high2", "mid", "low1", "low2", "neg"}));
}

TEST_F(StoreTest, ClaimOnlyFromTheWorkersQueues) {
  TaskSpec gpu = Task("gpu");
  gpu.queue = "gpu";
  ASSERT_OK(Submit({gpu, Task("cpu")}));
  auto got = Claim("w1", 10, {"default"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "cpu");
  EXPECT_TRUE(Claim("w1", 10, {"other"}).empty());
  got = Claim("w2", 10, {"gpu"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "gpu");
  EXPECT_EQ(State("gpu"), "running");
}

TEST_F(StoreTest, ClaimTakesAtMostN) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c")}));
  EXPECT_EQ(Claim("w1", 2).size(), 2u);
  EXPECT_EQ(Claim("w1", 0).size(), 0u);
  EXPECT_EQ(Claim("w2", 5).size(), 1u);
  EXPECT_TRUE(Claim("w2", 5).empty());
}

TEST_F(StoreTest, ClaimGivesTheCommandAndAttemptNumbersCount) {
  TaskSpec t = Task("a");
  t.cmd = {"echo", "hi there"};
  ASSERT_OK(Submit({t}));
  Assignment first = ClaimOne("w1", "a");
  EXPECT_EQ(first.attempt_no, 1);
  EXPECT_EQ(nlohmann::json::parse(first.cmd_json), nlohmann::json({"echo", "hi there"}));
  EXPECT_EQ(first.fn, "");
  Lose(first.attempt_id);
  Assignment second = ClaimOne("w2", "a");
  EXPECT_EQ(second.attempt_no, 2);
  EXPECT_NE(second.attempt_id, first.attempt_id);
}

TEST_F(StoreTest, FunctionTaskGoesOnlyToAWorkerWithThatFunction) {
  TaskSpec t;
  t.key = "f";
  t.fn = "echo";
  ASSERT_OK(Submit({t}));
  EXPECT_TRUE(Claim("w1").empty());
  WorkerRecord w = Worker("w2");
  w.fns = {"noop", "echo"};
  auto got = ClaimAt(w, 5, Now());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].fn, "echo");
  EXPECT_EQ(got[0].cmd_json, "");
}

// ---------------------------------------------------------------- loss

TEST_F(StoreTest, LostAttemptRequeuesWithSuspicion) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  Lose(a.attempt_id);
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Suspicious("a"), 1);
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"lost"}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM attempts WHERE ended_at IS NULL"), 0);
}

TEST_F(StoreTest, PrefetchedUnstartedAttemptIsReleasedNotBlamedWhenItsWorkerIsLost) {
  ASSERT_OK(Submit({Task("a"), Task("b")}));
  Assignment a = ClaimOne("w1", "a");
  Assignment b = ClaimOne("w1", "b");
  std::vector<int64_t> not_held;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->Renew("w1", {a.attempt_id}, Now(), &not_held));
  ASSERT_OK(store_->Renew("w1", {b.attempt_id}, Now(), &not_held, /*started=*/false));
  ASSERT_OK(store_->Commit());
  EXPECT_TRUE(not_held.empty());
  Lose(a.attempt_id);
  Lose(b.attempt_id);
  EXPECT_EQ(Suspicious("a"), 1);
  EXPECT_EQ(Suspicious("b"), 0);
  EXPECT_EQ(Outcomes("b"), (std::vector<std::string>{"released"}));
  EXPECT_EQ(State("b"), "queued");
  // Once reported running again, it is blamed like any other.
  ClaimOne("w2", "a");
  Assignment b2 = ClaimOne("w2", "b");
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->Renew("w2", {b2.attempt_id}, Now(), &not_held, /*started=*/false));
  ASSERT_OK(store_->Renew("w2", {b2.attempt_id}, Now(), &not_held, /*started=*/true));
  ASSERT_OK(store_->Commit());
  Lose(b2.attempt_id);
  EXPECT_EQ(Suspicious("b"), 1);
}

TEST_F(StoreTest, FourthLossFailsTheTaskAndItsDependents) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  for (int i = 1; i <= 3; ++i) {
    Lose(ClaimOne(i % 2 ? "w1" : "w2", "a").attempt_id);
    EXPECT_EQ(State("a"), "queued");
    EXPECT_EQ(Suspicious("a"), i);
  }
  Lose(ClaimOne("w1", "a").attempt_id);
  EXPECT_EQ(State("a"), "failed");
  EXPECT_EQ(Suspicious("a"), 4);
  EXPECT_TRUE(Contains(Error("a"), "allowed-failures 3")) << Error("a");
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>(4, "lost")));
  EXPECT_EQ(State("b"), "failed");
  EXPECT_TRUE(Contains(Error("b"), "dependency 'a' failed")) << Error("b");
  EXPECT_TRUE(Claim("w1").empty());
}

TEST_F(StoreTest, LateResultAfterLossChangesNothing) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  Assignment old = ClaimOne("w1", "a");
  Lose(old.attempt_id);
  EXPECT_FALSE(Succeed(old, "late", "w1"));
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(State("b"), "waiting");
  Assignment again = ClaimOne("w2", "a");
  EXPECT_FALSE(Succeed(old, "late", "w1"));
  EXPECT_EQ(State("a"), "running");
  EXPECT_TRUE(Succeed(again, "fresh", "w2"));
  EXPECT_FALSE(Succeed(old, "late", "w1"));
  EXPECT_FALSE(Succeed(again, "twice", "w2"));
  std::string state, result;
  ASSERT_OK(store_->Fetch("a", &state, &result));
  EXPECT_EQ(state, "done");
  EXPECT_EQ(result, "fresh");
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"lost", "done"}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM attempts WHERE task_key = 'a' AND outcome = 'done'"),
            1);
  EXPECT_EQ(State("b"), "queued");
  EXPECT_EQ(Show("b")["unfinished_deps"], 0);
}

TEST_F(StoreTest, ResultFromAnotherWorkerIsNotApplied) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_FALSE(Succeed(a, "x", "w2"));
  EXPECT_EQ(State("a"), "running");
  EXPECT_FALSE(Complete("w1", 987654, 0));
}

TEST_F(StoreTest, LoseOfAnEndedAttemptIsANoOp) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_TRUE(Succeed(a));
  Lose(a.attempt_id);
  Lose(123456);
  EXPECT_EQ(State("a"), "done");
  EXPECT_EQ(Suspicious("a"), 0);
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"done"}));
}

TEST_F(StoreTest, ReleaseRequeuesWithoutSuspicion) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  Release("w2", a.attempt_id);  // not its attempt: nothing happens
  EXPECT_EQ(State("a"), "running");
  Release("w1", a.attempt_id);
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Suspicious("a"), 0);
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"released"}));
  EXPECT_FALSE(Succeed(a));
  EXPECT_EQ(ClaimOne("w2", "a").attempt_no, 2);
}

TEST_F(StoreTest, RenewReportsAttemptsNotHeldByThatWorker) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c")}));
  Assignment a = ClaimOne("w1", "a");
  Assignment b = ClaimOne("w2", "b");
  Assignment c = ClaimOne("w1", "c");
  Lose(c.attempt_id);
  std::vector<int64_t> not_held;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->Renew("w1", {a.attempt_id, b.attempt_id, c.attempt_id, 999}, Now(),
                          &not_held));
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(not_held, (std::vector<int64_t>{b.attempt_id, c.attempt_id, 999}));
}

TEST_F(StoreTest, HeartbeatsInQuickSuccessionWriteALeaseOnlyWhenItIsDueOrItsStartChanges) {
  ASSERT_OK(Submit({Task("a"), Task("b")}));
  const int64_t t0 = Now();
  Assignment a = ClaimOne("w1", "a");
  Assignment b = ClaimOne("w1", "b");  // prefetched: reported queued first
  auto expiry = [&](int64_t id) {
    return QueryInt("SELECT lease_expires_at FROM attempts WHERE id = " + std::to_string(id));
  };
  auto unstarted = [&](int64_t id) {
    return QueryInt("SELECT unstarted FROM attempts WHERE id = " + std::to_string(id));
  };
  auto heartbeat = [&](int64_t at, std::vector<int64_t> running, std::vector<int64_t> queued) {
    std::vector<int64_t> not_held;
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->Renew("w1", running, at, &not_held));
    ASSERT_OK(store_->Renew("w1", queued, at, &not_held, /*started=*/false));
    ASSERT_OK(store_->Commit());
    EXPECT_TRUE(not_held.empty());
  };
  const int64_t leased_until = expiry(a.attempt_id);
  heartbeat(t0 + 10, {a.attempt_id}, {b.attempt_id});
  EXPECT_EQ(expiry(a.attempt_id), leased_until);  // renewed 10 ms ago: kept
  EXPECT_EQ(unstarted(b.attempt_id), 1);           // the change is written at once
  EXPECT_EQ(expiry(b.attempt_id), rules::LeaseExpiry(kTestSettings, t0 + 10));
  heartbeat(t0 + 20, {a.attempt_id, b.attempt_id}, {});
  EXPECT_EQ(unstarted(b.attempt_id), 0);  // started: written although fresh
  const int64_t half = kTestSettings.heartbeat_ms / 2;
  heartbeat(t0 + half, {a.attempt_id, b.attempt_id}, {});
  EXPECT_EQ(expiry(a.attempt_id), rules::LeaseExpiry(kTestSettings, t0 + half));
  EXPECT_EQ(expiry(b.attempt_id), rules::LeaseExpiry(kTestSettings, t0 + 20));
  EXPECT_EQ(QueryInt("SELECT last_seen_at FROM workers WHERE name = 'w1'"), t0 + half);
}

TEST_F(StoreTest, ExpiredLeasesAreOnlyThoseThatLapsed) {
  ASSERT_OK(Submit({Task("a"), Task("b")}));
  const int64_t t0 = Now();
  Assignment a = ClaimOne("w1", "a");
  clock_.Advance(1000);
  Assignment b = ClaimOne("w2", "b");
  const int64_t ttl = rules::LeaseTtlMs(kTestSettings);
  std::vector<LeasedAttempt> out;
  ASSERT_OK(store_->ExpiredLeases(t0 + ttl - 1, 100, &out));
  EXPECT_TRUE(out.empty());
  ASSERT_OK(store_->ExpiredLeases(t0 + ttl, 100, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].attempt_id, a.attempt_id);
  EXPECT_EQ(out[0].worker, "w1");
  // A renewal at t0 + 1000 pushes a's lease past b's.
  std::vector<int64_t> not_held;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->Renew("w1", {a.attempt_id}, t0 + 1500, &not_held));
  ASSERT_OK(store_->Commit());
  ASSERT_OK(store_->ExpiredLeases(t0 + 1000 + ttl, 100, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].attempt_id, b.attempt_id);
  ASSERT_OK(store_->ExpiredLeases(t0 + 100000, 1, &out));
  EXPECT_EQ(out.size(), 1u);  // limit
  Lose(b.attempt_id);
  ASSERT_OK(store_->ExpiredLeases(t0 + 100000, 100, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].attempt_id, a.attempt_id);
}

TEST_F(StoreTest, HonourLeasesPushesExpiryToTheFloor) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  const int64_t floor = rules::StartupLeaseFloor(kTestSettings, Now());
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->HonourLeases(floor));
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(QueryInt("SELECT lease_expires_at FROM attempts WHERE id = " +
                     std::to_string(a.attempt_id)),
            floor);
  std::vector<LeasedAttempt> out;
  ASSERT_OK(store_->ExpiredLeases(floor - 1, 100, &out));
  EXPECT_TRUE(out.empty());
  ASSERT_OK(store_->ExpiredLeases(floor, 100, &out));
  EXPECT_EQ(out.size(), 1u);
}

// ---------------------------------------------------------------- workers

TEST_F(StoreTest, SameSessionReconnectKeepsItsAttempts) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_TRUE(RegisterAs(Worker("w1")));
  EXPECT_EQ(State("a"), "running");
  EXPECT_EQ(Suspicious("a"), 0);
  EXPECT_TRUE(Succeed(a, "ok"));
  EXPECT_EQ(State("a"), "done");
}

TEST_F(StoreTest, NewProcessUnderTheSameNameLosesTheOldProcessAttempts) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  WorkerRecord fresh = Worker("w1", {"default"}, "session-2");
  fresh.pid = 777;
  EXPECT_FALSE(RegisterAs(fresh));
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Suspicious("a"), 1);
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"lost"}));
  EXPECT_FALSE(Succeed(a));
  int64_t pid = 0;
  std::string state;
  ASSERT_OK(store_->WorkerPid("w1", &pid, &state));
  EXPECT_EQ(pid, 777);
  EXPECT_EQ(state, "alive");
}

TEST_F(StoreTest, WorkerLostReclaimsWithSuspicionAndMarksItLost) {
  ASSERT_OK(Submit({Task("a"), Task("b")}));
  Claim("w1", 2);
  int reclaimed = 0;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->WorkerLost("w1", Now(), "silent for 3 s", &reclaimed));
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(reclaimed, 2);
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Suspicious("b"), 1);
  int64_t pid = 0;
  std::string state;
  ASSERT_OK(store_->WorkerPid("w1", &pid, &state));
  EXPECT_EQ(state, "lost");
  EXPECT_EQ(Show("a")["attempts"][0]["error"], "silent for 3 s");
  EXPECT_EQ(Show("a")["attempts"][0]["blame"], "suspected");
  EXPECT_EQ(Deaths("a"), 0);
  // The same process coming back did not die: its losses blame nothing.
  EXPECT_FALSE(RegisterAs(Worker("w1")));
  EXPECT_EQ(Suspicious("a"), 0);
  EXPECT_EQ(Show("a")["attempts"][0]["blame"], "withdrawn");
  EXPECT_EQ(Show("a")["attempts"][0]["outcome"], "lost");  // the record stays
}

// Blame only deaths (issue 12): a worker cut off and back, again and again,
// never fails the task it was running.
TEST_F(StoreTest, PartitionsThatEndNeverFailATask) {
  ASSERT_OK(Submit({Task("a")}));
  for (int i = 0; i < 6; ++i) {
    ClaimOne(i % 2 ? "w2" : "w1", "a");
    int reclaimed = 0;
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->WorkerLost(i % 2 ? "w2" : "w1", Now(), "silent for 600 ms", &reclaimed));
    ASSERT_OK(store_->Commit());
    EXPECT_EQ(State("a"), "queued");
    EXPECT_EQ(Suspicious("a"), 1);
    EXPECT_FALSE(RegisterAs(Worker(i % 2 ? "w2" : "w1")));  // back, the same session
    EXPECT_EQ(Suspicious("a"), 0);
  }
  EXPECT_EQ(Deaths("a"), 0);
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>(6, "lost")));
}

// Without a nanny, a real poison task: each worker it kills is suspected,
// then a new session under its name confirms the death; the confirmation
// past allowed-failures (3) fails the queued task.
TEST_F(StoreTest, ANewSessionConfirmsADeathAndFailsAPoisonTaskPastAllowedFailures) {
  ASSERT_OK(Submit({Task("a")}));
  for (int i = 1; i <= 4; ++i) {
    ClaimOne("w1", "a");
    int reclaimed = 0;
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->WorkerLost("w1", Now(), "silent for 3 s", &reclaimed));
    ASSERT_OK(store_->Commit());
    EXPECT_EQ(State("a"), "queued") << i;  // suspicion alone fails nothing
    EXPECT_EQ(Deaths("a"), i - 1);
    RegisterAs(Worker("w1", {"default"}, "session-" + std::to_string(i + 1)));
    EXPECT_EQ(Deaths("a"), i);
    if (i <= 3) {
      EXPECT_EQ(State("a"), "queued") << i;
    }
  }
  EXPECT_EQ(State("a"), "failed");
  EXPECT_TRUE(Contains(Error("a"), "lost 4 workers")) << Error("a");
  EXPECT_EQ(Show("a")["attempts"][3]["blame"], "death");
}

TEST_F(StoreTest, SilenceLongerThanTheSettingConfirmsADeath) {
  ASSERT_OK(Submit({Task("a")}));
  ClaimOne("w1", "a");
  int n = 0;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->WorkerLost("w1", Now(), "silent for 3 s", &n));
  ASSERT_OK(store_->ConfirmSilentDeaths(Now() - 1, Now(), 100, &n));
  EXPECT_EQ(n, 0);
  ASSERT_OK(store_->ConfirmSilentDeaths(Now(), Now(), 100, &n));
  EXPECT_EQ(n, 1);
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(Deaths("a"), 1);
  EXPECT_EQ(Suspicious("a"), 1);
  // Too late to take it back: the worker's return withdraws nothing now.
  EXPECT_FALSE(RegisterAs(Worker("w1")));
  EXPECT_EQ(Suspicious("a"), 1);
}

// Deaths confirmed while the task runs elsewhere: the task is failed when
// that attempt ends without a result (here: handed back), not before.
TEST_F(StoreTest, ARunningTaskPastAllowedDeathsIsFailedWhenItsAttemptIsHandedBack) {
  ASSERT_OK(Submit({Task("a")}));
  for (int i = 0; i < 3; ++i) Lose(ClaimOne("w2", "a").attempt_id);
  ClaimOne("w1", "a");
  int n = 0;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->WorkerLost("w1", Now(), "silent for 3 s", &n));
  ASSERT_OK(store_->Commit());
  const Assignment running = ClaimOne("w2", "a");
  RegisterAs(Worker("w1", {"default"}, "session-2"));
  EXPECT_EQ(Deaths("a"), 4);
  EXPECT_EQ(State("a"), "running");
  Release("w2", running.attempt_id);
  EXPECT_EQ(State("a"), "failed");
  EXPECT_TRUE(Contains(Error("a"), "allowed-failures 3")) << Error("a");
}

// A step of the wall clock moves the running leases and the suspected
// losses' end times with it; nothing else.
TEST_F(StoreTest, AClockStepShiftsRunningLeasesAndSuspectedLossesOnly) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c")}));
  ClaimOne("w1", "a");
  int n = 0;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->WorkerLost("w1", Now(), "silent for 3 s", &n));
  ASSERT_OK(store_->Commit());
  ClaimOne("w2", "a");
  Complete("w2", ClaimOne("w2", "b").attempt_id, 0);
  const auto before = Show("a")["attempts"];
  const int64_t done_end = Show("b")["attempts"][0]["ended_at"];
  std::vector<LeasedAttempt> expired;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->ShiftForClockStep(3'600'000));
  ASSERT_OK(store_->ExpiredLeases(Now() + 3'600'000, 10, &expired));
  ASSERT_OK(store_->Commit());
  EXPECT_TRUE(expired.empty());  // live leases did not lapse with the step
  const auto after = Show("a")["attempts"];
  EXPECT_EQ(after[0]["ended_at"].get<int64_t>(), before[0]["ended_at"].get<int64_t>() + 3'600'000);
  EXPECT_EQ(Show("b")["attempts"][0]["ended_at"], done_end);
}

// A lease that lapsed while its worker was heard blames nothing at all.
TEST_F(StoreTest, ALossWithoutBlameCountsNothing) {
  ASSERT_OK(Submit({Task("a")}));
  Lose(ClaimOne("w1", "a").attempt_id, rules::Blame::kNone);
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Suspicious("a"), 0);
  EXPECT_EQ(Deaths("a"), 0);
  EXPECT_EQ(Show("a")["attempts"][0]["blame"], "withdrawn");
}

TEST_F(StoreTest, WorkerGoneReleasesWithoutSuspicion) {
  ASSERT_OK(Submit({Task("a")}));
  ClaimOne("w1", "a");
  int released = 0;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->WorkerGone("w1", Now(), &released));
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(released, 1);
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Suspicious("a"), 0);
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"released"}));
  nlohmann::json counts, workers;
  ASSERT_OK(store_->Counts(&counts, &workers));
  EXPECT_EQ(workers["gone"], 1);
  EXPECT_EQ(workers["alive"], 1);
}

TEST_F(StoreTest, FindWorkerGivesTheNamesHolderAndItsState) {
  WorkerRecord w;
  std::string state;
  ASSERT_OK(store_->FindWorker("w1", &w, &state));
  EXPECT_EQ(w.name, "w1");
  EXPECT_EQ(w.pid, 4242);
  EXPECT_EQ(w.host, "localhost");
  EXPECT_EQ(w.session, "session-1");
  EXPECT_EQ(state, "alive");
  WorkerRecord fresh = Worker("w1", {"default"}, "session-2");
  fresh.pid = 777;
  fresh.host = "other";
  RegisterAs(fresh);
  ASSERT_OK(store_->FindWorker("w1", &w, &state));
  EXPECT_EQ(w.pid, 777);
  EXPECT_EQ(w.host, "other");
  EXPECT_EQ(w.session, "session-2");
  EXPECT_EQ(store_->FindWorker("ghost", &w, &state).code(), Status::Code::kNotFound);
}

TEST_F(StoreTest, UnknownWorkerPidIsNotFound) {
  int64_t pid = 0;
  std::string state;
  Status s = store_->WorkerPid("ghost", &pid, &state);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "ghost"));
}

}  // namespace
}  // namespace leaseq::testing
