// Tests of task ends (store_tasks.cc): a success, a failure and its retries, and what
// each does to the dependents; the stdin a task is given.

#include "broker/store.h"

#include <gtest/gtest.h>

#include "broker/store_test_util.h"
#include "common/config.h"

namespace leaseq::testing {
namespace {

// ---------------------------------------------------------------- stdin

TEST_F(StoreTest, StdinIsInputThenDependencyResultsInAfterOrder) {
  TaskSpec c = Task("c", {"b", "a"});
  c.input = std::string("in\0:", 4);
  ASSERT_OK(Submit({Task("a"), Task("b"), c}));
  Run("a", std::string("A\0a", 3));
  Run("b", "B\n");
  Assignment got = ClaimOne("w1", "c");
  EXPECT_EQ(got.stdin_bytes, std::string("in\0:B\nA\0a", 9));
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
  EXPECT_EQ(WakeAt(Now() + rules::RetryBackoffMs(kTestSettings, 1) - 1), 0);
  EXPECT_TRUE(ClaimAt(Worker("w1"), 5, Now()).empty());
  EXPECT_EQ(WakeAt(Now() + rules::RetryBackoffMs(kTestSettings, 1)), 1);
  auto later = ClaimAt(Worker("w1"), 5, Now() + rules::RetryBackoffMs(kTestSettings, 1));
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

}  // namespace
}  // namespace leaseq::testing
