// Tests of Cancel and Retry (store_changes.cc) of tasks in every state, and what they
// do to dependents.

#include "broker/store.h"

#include <gtest/gtest.h>

#include "broker/store_test_util.h"
#include "common/config.h"

namespace leaseq::testing {
namespace {

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

}  // namespace
}  // namespace leaseq::testing
