#include "broker/store.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "broker/store_test_util.h"
#include "common/config.h"

namespace leaseq::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------- submit

TEST_F(StoreTest, SubmitWithoutDependenciesIsQueued) {
  ASSERT_OK(Submit({Task("a")}));
  auto j = Show("a");
  EXPECT_EQ(j["key"], "a");
  EXPECT_EQ(j["state"], "queued");
  EXPECT_EQ(j["suspicious"], 0);
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_TRUE(j["attempts"].empty());
}

TEST_F(StoreTest, SubmitAfterUnfinishedTaskIsWaitingAfterDoneTaskIsQueued) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  EXPECT_EQ(State("b"), "waiting");
  Run("a");
  ASSERT_OK(Submit({Task("c", {"a"})}));
  EXPECT_EQ(State("c"), "queued");
  EXPECT_EQ(Show("b")["after"], nlohmann::json({"a"}));
}

TEST_F(StoreTest, ResubmitWithSameFieldsIsANoOp) {
  ASSERT_OK(Submit({Task("a")}));
  Run("a", "out");
  int bad = 0;
  ASSERT_OK(Submit({Task("a")}, &bad));
  EXPECT_EQ(bad, -1);
  EXPECT_EQ(State("a"), "done");  // not queued again
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
  EXPECT_TRUE(Claim("w1").empty());
}

TEST_F(StoreTest, ResubmitWithDifferentInputIsAConflictSameInputANoOp) {
  TaskSpec t = Task("a");
  t.input = std::string("in\0put", 6);
  ASSERT_OK(Submit({t}));
  ASSERT_OK(Submit({t}));
  TaskSpec other = t;
  other.input = "input";
  EXPECT_EQ(Submit({other}).code(), Status::Code::kConflict);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
}

TEST_F(StoreTest, ResubmitWithDifferentFieldsIsAConflictAtItsIndex) {
  ASSERT_OK(Submit({Task("a")}));
  TaskSpec changed = Task("a");
  changed.priority = 5;
  int bad = -1;
  Status s = Submit({Task("x"), changed}, &bad);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_TRUE(Contains(s.message(), "'a'")) << s.message();
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks WHERE key = 'x'"), 0);
  EXPECT_EQ(Show("a")["priority"], 0);
}

TEST_F(StoreTest, UnknownAfterKeyStoresNothingOfThatSubmission) {
  ASSERT_OK(Submit({Task("before")}));
  int bad = -1;
  Status s = Submit({Task("a"), Task("b", {"a"}), Task("c", {"b", "nope"})}, &bad);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "'nope'")) << s.message();
  EXPECT_EQ(bad, 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM task_deps"), 0);
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 1);
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'waiting'"), 0);
}

TEST_F(StoreTest, FailedSubmissionKeepsOtherWorkOfTheSameTransaction) {
  ASSERT_OK(store_->Begin());
  int bad = -1;
  ASSERT_OK(store_->Submit({Task("ok")}, Now(), &bad));
  EXPECT_FALSE(store_->Submit({Task("x"), Task("y", {"missing"})}, Now(), &bad).ok());
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(State("ok"), "queued");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
}

TEST_F(StoreTest, SubmitAfterAFailedTaskFailsNamingIt) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_TRUE(Complete("w1", a.attempt_id, 1));
  ASSERT_OK(Submit({Task("b", {"a"})}));
  EXPECT_EQ(State("b"), "failed");
  EXPECT_TRUE(Contains(Error("b"), "dependency 'a' failed")) << Error("b");
}

TEST_F(StoreTest, SubmitAfterACancelledTaskFailsNamingIt) {
  ASSERT_OK(Submit({Task("a")}));
  ASSERT_OK(Cancel({"a"}));
  ASSERT_OK(Submit({Task("b", {"a"})}));
  EXPECT_EQ(State("b"), "failed");
  EXPECT_TRUE(Contains(Error("b"), "dependency 'a' was cancelled")) << Error("b");
  ASSERT_OK(Retry({"a"}));
  EXPECT_EQ(State("b"), "waiting");
  Run("a");
  EXPECT_EQ(State("b"), "queued");
}

TEST_F(StoreTest, ATaskCannotWaitForItself) {
  int bad = -1;
  Status s = Submit({Task("x", {"x"})}, &bad);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "'x'")) << s.message();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 0);
}

TEST_F(StoreTest, TaskWithoutKeyIsRefused) {
  int bad = -1;
  Status s = Submit({Task("ok"), Task("")}, &bad);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 0);
}

TEST_F(StoreTest, SameKeyTwiceInOneBatchIsStoredOnce) {
  ASSERT_OK(Submit({Task("a"), Task("a")}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
  TaskSpec other = Task("a");
  other.input = "different";
  EXPECT_EQ(Submit({Task("b"), other}).code(), Status::Code::kConflict);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
}

TEST_F(StoreTest, RepeatedAfterKeyCountsOnceAndFeedsStdinTwice) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a", "a"})}));
  EXPECT_EQ(Show("b")["unfinished_deps"], 1);
  Run("a", "x");
  EXPECT_EQ(State("b"), "queued");
  EXPECT_EQ(ClaimOne("w1", "b").stdin_bytes, "xx");
}

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

TEST_F(StoreTest, StdinIsInputThenDependencyResultsInAfterOrder) {
  TaskSpec c = Task("c", {"b", "a"});
  c.input = std::string("in\0:", 4);
  ASSERT_OK(Submit({Task("a"), Task("b"), c}));
  Run("a", std::string("A\0a", 3));
  Run("b", "B\n");
  Assignment got = ClaimOne("w1", "c");
  EXPECT_EQ(got.stdin_bytes, std::string("in\0:B\nA\0a", 9));
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

// ---------------------------------------------------------------- complete

TEST_F(StoreTest, SuccessMakesTheTaskDoneWithItsResultBytes) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  const std::string out("line 1\n\0\xff binary", 16);
  EXPECT_TRUE(Succeed(a, out));
  std::string state, result;
  ASSERT_OK(store_->Fetch("a", &state, &result));
  EXPECT_EQ(state, "done");
  EXPECT_EQ(result, out);
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"done"}));
  EXPECT_EQ(Show("a")["result_bytes"], 16);
  auto db = Reader();
  SQLite::Statement q(*db, "SELECT result FROM tasks WHERE key = 'a'");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(std::string(static_cast<const char*>(q.getColumn(0).getBlob()),
                        q.getColumn(0).getBytes()),
            out);
}

TEST_F(StoreTest, DependentIsReleasedOnlyWhenAllDependenciesAreDone) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c", {"a", "b"})}));
  Run("a");
  EXPECT_EQ(State("c"), "waiting");
  EXPECT_EQ(Show("c")["unfinished_deps"], 1);
  Run("b");
  EXPECT_EQ(State("c"), "queued");
}

TEST_F(StoreTest, FanInOfAThousandReleasesOnceAtTheEnd) {
  const int kDeps = 1000;
  std::vector<TaskSpec> tasks;
  std::vector<std::string> keys;
  for (int i = 0; i < kDeps; ++i) {
    keys.push_back("d" + std::to_string(i));
    tasks.push_back(Task(keys.back()));
  }
  tasks.push_back(Task("sum", keys));
  ASSERT_OK(Submit(tasks));
  auto got = Claim("w1", kDeps + 10);
  ASSERT_EQ(got.size(), static_cast<size_t>(kDeps));  // not the sum
  for (int i = 0; i < kDeps; ++i) {
    EXPECT_TRUE(Succeed(got[i], std::to_string(i) + ","));
    if (i == kDeps - 2) {
      ASSERT_EQ(State("sum"), "waiting");
      EXPECT_TRUE(Claim("w2").empty());
    }
  }
  EXPECT_EQ(State("sum"), "queued");
  auto sum = Claim("w2", 10);
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_EQ(sum[0].key, "sum");
  std::string expected;
  for (int i = 0; i < kDeps; ++i) expected += std::to_string(i) + ",";
  EXPECT_EQ(sum[0].stdin_bytes, expected);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM attempts WHERE task_key = 'sum'"), 1);
}

TEST_F(StoreTest, FanOutOfAThousandAfterOneAreAllReleased) {
  std::vector<TaskSpec> tasks{Task("root")};
  for (int i = 0; i < 1000; ++i) tasks.push_back(Task("f" + std::to_string(i), {"root"}));
  ASSERT_OK(Submit(tasks));
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'waiting'"), 1000);
  Run("root", "x");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks WHERE state = 'queued'"), 1000);
  auto got = Claim("w1", 2000);
  EXPECT_EQ(got.size(), 1000u);
  for (const auto& a : got) EXPECT_EQ(a.stdin_bytes, "x");
}

TEST_F(StoreTest, FailureWithRetriesRequeuesAfterABackoff) {
  ASSERT_OK(Submit({Task("a", {}, 2)}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_TRUE(Complete("w1", a.attempt_id, 3, "", "oops"));
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"error"}));
  EXPECT_GT(QueryInt("SELECT ready_at FROM tasks WHERE key = 'a'"), Now());
  EXPECT_EQ(WakeAt(Now() + rules::RetryBackoffMs(1) - 1), 0);
  EXPECT_TRUE(ClaimAt(Worker("w1"), 5, Now()).empty());
  EXPECT_EQ(WakeAt(Now() + rules::RetryBackoffMs(1)), 1);
  auto later = ClaimAt(Worker("w1"), 5, Now() + rules::RetryBackoffMs(1));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].attempt_no, 2);
}

TEST_F(StoreTest, FailureAfterRetriesFailsWithExitStatusAndStderr) {
  ASSERT_OK(Submit({Task("a", {}, 1)}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_TRUE(Complete("w1", a.attempt_id, 2, "", "first"));
  clock_.Advance(config::kRetryBackoffMaxMs);
  a = ClaimOne("w1", "a");
  EXPECT_TRUE(Complete("w1", a.attempt_id, 7, "partial", "boom: no such file"));
  EXPECT_EQ(State("a"), "failed");
  EXPECT_TRUE(Contains(Error("a"), "exit status 7")) << Error("a");
  EXPECT_TRUE(Contains(Error("a"), "boom: no such file")) << Error("a");
  EXPECT_EQ(Outcomes("a"), (std::vector<std::string>{"error", "error"}));
  EXPECT_EQ(Show("a")["attempts"][1]["exit_code"], 7);
  EXPECT_TRUE(Claim("w1").empty());
}

TEST_F(StoreTest, KilledBySignalIsAFailedAttempt) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_TRUE(Complete("w1", a.attempt_id, -1, "", "", 9));
  EXPECT_EQ(State("a"), "failed");
  EXPECT_TRUE(Contains(Error("a"), "signal 9")) << Error("a");
}

TEST_F(StoreTest, FailurePropagatesToDependentsTransitivelyNamingTheDependency) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"}), Task("c", {"b"}), Task("other")}));
  Assignment a = ClaimOne("w1", "a");
  EXPECT_TRUE(Complete("w1", a.attempt_id, 1));
  EXPECT_EQ(State("b"), "failed");
  EXPECT_TRUE(Contains(Error("b"), "dependency 'a' failed")) << Error("b");
  EXPECT_EQ(State("c"), "failed");
  EXPECT_TRUE(Contains(Error("c"), "dependency 'b' failed")) << Error("c");
  EXPECT_EQ(State("other"), "queued");
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

// ---------------------------------------------------------------- cancel

TEST_F(StoreTest, CancelRunningTaskReturnsTheAttemptToAbort) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  Assignment a = ClaimOne("w1", "a");
  std::vector<LeasedAttempt> aborts;
  std::vector<std::string> changed;
  ASSERT_OK(Cancel({"a"}, &aborts, &changed));
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_EQ(aborts[0].attempt_id, a.attempt_id);
  EXPECT_EQ(aborts[0].worker, "w1");
  EXPECT_EQ(changed, (std::vector<std::string>{"a"}));
  EXPECT_EQ(State("a"), "cancelled");
  EXPECT_EQ(State("b"), "failed");
  EXPECT_TRUE(Contains(Error("b"), "dependency 'a' was cancelled")) << Error("b");
  EXPECT_FALSE(Succeed(a, "late"));
  EXPECT_EQ(State("a"), "cancelled");
}

TEST_F(StoreTest, CancelQueuedAndWaitingTasks) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"}), Task("c", {"b"})}));
  std::vector<LeasedAttempt> aborts;
  ASSERT_OK(Cancel({"b"}, &aborts));
  EXPECT_TRUE(aborts.empty());
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(State("b"), "cancelled");
  EXPECT_EQ(State("c"), "failed");
  EXPECT_TRUE(Contains(Error("c"), "dependency 'b' was cancelled")) << Error("c");
  ASSERT_OK(Cancel({"a"}));
  EXPECT_EQ(State("a"), "cancelled");
  EXPECT_TRUE(Claim("w1").empty());
}

TEST_F(StoreTest, CancelLeavesDoneTasksAloneAndNamesUnknownKeys) {
  ASSERT_OK(Submit({Task("a")}));
  Run("a", "r");
  std::vector<std::string> changed;
  ASSERT_OK(Cancel({"a"}, nullptr, &changed));
  EXPECT_TRUE(changed.empty());
  EXPECT_EQ(State("a"), "done");
  Status s = Cancel({"nope"});
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "'nope'"));
}

TEST_F(StoreTest, CancelledWaitingTaskRetriedAfterItsDependencyIsDoneIsQueued) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  ASSERT_OK(Cancel({"b"}));
  Run("a");
  EXPECT_EQ(State("b"), "cancelled");
  ASSERT_OK(Retry({"b"}));
  EXPECT_EQ(State("b"), "queued");
  EXPECT_EQ(Show("b")["unfinished_deps"], 0);
}

TEST_F(StoreTest, CancelledRunningTaskRetriedGetsANewAttempt) {
  ASSERT_OK(Submit({Task("a")}));
  Assignment old = ClaimOne("w1", "a");
  ASSERT_OK(Cancel({"a"}));
  ASSERT_OK(Retry({"a"}));
  Assignment fresh = ClaimOne("w2", "a");
  EXPECT_FALSE(Succeed(old, "late", "w1"));
  EXPECT_EQ(State("a"), "running");
  EXPECT_TRUE(Succeed(fresh, "new", "w2"));
  std::string state, result;
  ASSERT_OK(store_->Fetch("a", &state, &result));
  EXPECT_EQ(result, "new");
}

// ---------------------------------------------------------------- retry

TEST_F(StoreTest, RetryResetsSuspicionAndBringsDependentsBackToWaiting) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"}), Task("c", {"b"})}));
  for (int i = 0; i < 4; ++i) Lose(ClaimOne("w1", "a").attempt_id);
  ASSERT_EQ(State("a"), "failed");
  ASSERT_EQ(State("c"), "failed");
  std::vector<std::string> changed;
  ASSERT_OK(Retry({"a"}, &changed));
  EXPECT_EQ(changed, (std::vector<std::string>{"a"}));
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(Suspicious("a"), 0);
  EXPECT_EQ(Error("a"), "");
  EXPECT_EQ(State("b"), "waiting");
  EXPECT_EQ(State("c"), "waiting");
  EXPECT_EQ(Error("c"), "");
  Assignment a = ClaimOne("w1", "a");
  EXPECT_EQ(a.attempt_no, 5);
  EXPECT_TRUE(Succeed(a));
  EXPECT_EQ(State("b"), "queued");
}

TEST_F(StoreTest, RetryGivesRetriesAgain) {
  ASSERT_OK(Submit({Task("a", {}, 1)}));
  EXPECT_TRUE(Complete("w1", ClaimOne("w1", "a").attempt_id, 1));
  clock_.Advance(config::kRetryBackoffMaxMs);
  EXPECT_TRUE(Complete("w1", ClaimOne("w1", "a").attempt_id, 1));
  ASSERT_EQ(State("a"), "failed");
  ASSERT_OK(Retry({"a"}));
  EXPECT_EQ(State("a"), "queued");
  EXPECT_TRUE(Complete("w1", ClaimOne("w1", "a").attempt_id, 1));
  EXPECT_EQ(State("a"), "queued");
}

TEST_F(StoreTest, RetryOfADependentRetriesTheRootCause) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"}), Task("c", {"b"})}));
  EXPECT_TRUE(Complete("w1", ClaimOne("w1", "a").attempt_id, 1));
  ASSERT_EQ(State("c"), "failed");
  std::vector<std::string> changed;
  ASSERT_OK(Retry({"c"}, &changed));
  EXPECT_EQ(changed, (std::vector<std::string>{"c"}));
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(State("b"), "waiting");
  EXPECT_EQ(State("c"), "waiting");
  Run("a");
  Run("b");
  EXPECT_EQ(State("c"), "queued");
}

TEST_F(StoreTest, RetryOfACancelledTask) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  ASSERT_OK(Cancel({"a"}));
  ASSERT_OK(Retry({"a"}));
  EXPECT_EQ(State("a"), "queued");
  EXPECT_EQ(State("b"), "waiting");
}

TEST_F(StoreTest, RetryOfAQueuedOrDoneTaskChangesNothing) {
  ASSERT_OK(Submit({Task("a"), Task("b")}));
  Run("a");
  std::vector<std::string> changed;
  ASSERT_OK(Retry({"a", "b"}, &changed));
  EXPECT_TRUE(changed.empty());
  EXPECT_EQ(State("a"), "done");
  EXPECT_EQ(State("b"), "queued");
  EXPECT_EQ(Retry({"nope"}).code(), Status::Code::kNotFound);
}

TEST_F(StoreTest, DependentFailedByOneDepIsReleasedAfterRetryWhenTheOtherIsDone) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("d", {"a", "b"})}));
  Assignment a = ClaimOne("w1", "a");
  Assignment b = ClaimOne("w2", "b");
  EXPECT_TRUE(Complete("w1", a.attempt_id, 1));
  ASSERT_EQ(State("d"), "failed");
  EXPECT_TRUE(Succeed(b, "B", "w2"));
  EXPECT_EQ(State("d"), "failed");
  ASSERT_OK(Retry({"a"}));
  EXPECT_EQ(State("d"), "waiting");
  Run("a", "A");
  EXPECT_EQ(State("d"), "queued");
  EXPECT_EQ(Show("d")["unfinished_deps"], 0);
  EXPECT_EQ(ClaimOne("w1", "d").stdin_bytes, "AB");
}

// Regression (was a bug): Retry puts back the dependents that a task failed (failed_dep), but
// does not look at their other dependencies. Input: d after [a, c]; a fails
// (d failed, "dependency 'a' failed"); c fails too; retry a; a completes.
// Expected: d ends failed naming 'c' (a dependency of d is failed, so d can
// never run). Actual: d is left 'waiting' forever with a failed dependency;
// `leaseq-submit --wait` on d never returns.
TEST_F(StoreTest, RetryDoesNotLeaveADependentWaitingOnAnotherFailedDependency) {
  ASSERT_OK(Submit({Task("a"), Task("c"), Task("d", {"a", "c"})}));
  Assignment a = ClaimOne("w1", "a");
  Assignment c = ClaimOne("w2", "c");
  EXPECT_TRUE(Complete("w1", a.attempt_id, 1));
  EXPECT_TRUE(Complete("w2", c.attempt_id, 1));
  ASSERT_EQ(State("d"), "failed");
  ASSERT_OK(Retry({"a"}));
  Run("a");
  EXPECT_EQ(State("d"), "failed");
  EXPECT_TRUE(Contains(Error("d"), "dependency 'c' failed")) << Error("d");
}

// Regression (was a bug): a dependent failed by its dependency and then cancelled keeps
// failed_dep, so a later retry of it follows failed_dep up to the (by then
// done) dependency, changes nothing, yet reports the key as changed.
// Input: b after a; a fails (b failed); cancel b; retry a; a done; retry b.
// Expected: b back in the queue ('queued'). Actual: b stays 'cancelled' for
// good, and Retry lists 'b' in changed.
TEST_F(StoreTest, RetryOfACancelledDependentAfterItsDependencyRecovered) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  EXPECT_TRUE(Complete("w1", ClaimOne("w1", "a").attempt_id, 1));
  ASSERT_EQ(State("b"), "failed");
  ASSERT_OK(Cancel({"b"}));
  ASSERT_EQ(State("b"), "cancelled");
  ASSERT_OK(Retry({"a"}));
  Run("a");
  ASSERT_EQ(State("b"), "cancelled");
  std::vector<std::string> changed;
  ASSERT_OK(Retry({"b"}, &changed));
  EXPECT_EQ(State("b"), "queued");
  if (State("b") != "queued") {
    EXPECT_TRUE(changed.empty()) << "Retry reported 'b' as changed, but it was not";
  }
}

// ---------------------------------------------------------------- queries

TEST_F(StoreTest, CountsMatchTheTasksStates) {
  // Claims go in submission order: c, then a (twice), then d.
  ASSERT_OK(Submit({Task("c"), Task("a"), Task("d"), Task("e"), Task("f"), Task("b", {"a"})}));
  Run("c");
  Lose(ClaimOne("w1", "a").attempt_id);
  EXPECT_TRUE(Complete("w1", ClaimOne("w1", "a").attempt_id, 1));
  ClaimOne("w2", "d");
  ASSERT_OK(Cancel({"e"}));
  nlohmann::json counts, workers;
  ASSERT_OK(store_->Counts(&counts, &workers));
  auto db = Reader();
  std::map<std::string, int64_t> actual;
  SQLite::Statement q(*db, "SELECT state, count(*) FROM tasks GROUP BY state");
  while (q.executeStep()) actual[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
  for (const char* state : {"waiting", "queued", "running", "done", "failed", "cancelled"}) {
    EXPECT_EQ(counts.value(state, -1), actual[state]) << state;
  }
  EXPECT_EQ(counts["failed"], 2);
  EXPECT_EQ(counts["done"], 1);
  EXPECT_EQ(counts["running"], 1);
  EXPECT_EQ(counts["queued"], 1);
  EXPECT_EQ(counts["cancelled"], 1);
  EXPECT_EQ(counts["waiting"], 0);
  EXPECT_EQ(workers["alive"], 2);
}

TEST_F(StoreTest, StatesCountsKnownKeysAndListsMissingOnes) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c", {"a"})}));
  Run("a");
  nlohmann::json counts;
  std::vector<std::string> missing;
  ASSERT_OK(store_->States({"a", "b", "c", "x"}, &counts, &missing));
  EXPECT_EQ(counts, nlohmann::json({{"done", 1}, {"queued", 2}}));
  EXPECT_EQ(missing, (std::vector<std::string>{"x"}));
}

TEST_F(StoreTest, FetchAndShowOfUnknownKeyAreNotFound) {
  std::string state, result;
  Status s = store_->Fetch("nope", &state, &result);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "'nope'"));
  nlohmann::json j;
  EXPECT_EQ(store_->Show("nope", &j).code(), Status::Code::kNotFound);
}

TEST_F(StoreTest, FetchOfAnUnfinishedTaskHasNoResult) {
  ASSERT_OK(Submit({Task("a")}));
  std::string state, result = "stale";
  ASSERT_OK(store_->Fetch("a", &state, &result));
  EXPECT_EQ(state, "queued");
  EXPECT_EQ(result, "");
}

TEST_F(StoreTest, WorkersListsEachWithItsRunningCount) {
  ASSERT_OK(Submit({Task("a"), Task("b")}));
  Claim("w2", 2);
  nlohmann::json out;
  ASSERT_OK(store_->Workers(&out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["name"], "w1");
  EXPECT_EQ(out[0]["running"], 0);
  EXPECT_EQ(out[1]["name"], "w2");
  EXPECT_EQ(out[1]["running"], 2);
  EXPECT_EQ(out[1]["state"], "alive");
}

TEST_F(StoreTest, OpeningADatabaseOfAnotherSchemaVersionIsRefused) {
  const std::string other = dir_ + "/other.db";
  {
    SQLite::Database db(other, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 7");
  }
  std::unique_ptr<Store> s;
  Status st = Store::Open(other, Durability::kFull, kTestSettings, &s);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "version 7")) << st.message();
}

TEST_F(StoreTest, DatabaseIsInWalMode) {
  EXPECT_EQ(Reader()->execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST_F(StoreTest, ReopeningTheFileKeepsEverything) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"}), Task("c")}));
  Run("a", std::string("A\0", 2));
  Assignment b = ClaimOne("w1", "b");
  Lose(ClaimOne("w2", "c").attempt_id);
  Reopen();
  EXPECT_EQ(State("a"), "done");
  std::string state, result;
  ASSERT_OK(store_->Fetch("a", &state, &result));
  EXPECT_EQ(result, std::string("A\0", 2));
  EXPECT_EQ(State("b"), "running");
  EXPECT_EQ(Suspicious("c"), 1);
  // The running attempt survives the restart and its result is accepted once.
  EXPECT_TRUE(RegisterAs(Worker("w1")));
  EXPECT_TRUE(Succeed(b, "B"));
  EXPECT_FALSE(Succeed(b, "B"));
  EXPECT_EQ(State("b"), "done");
  nlohmann::json counts, workers;
  ASSERT_OK(store_->Counts(&counts, &workers));
  EXPECT_EQ(counts["done"], 2);
  EXPECT_EQ(counts["queued"], 1);
  std::vector<std::string> names;
  ASSERT_OK(store_->AliveWorkers(&names));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"w1", "w2"}));
}

}  // namespace
}  // namespace leaseq::testing
