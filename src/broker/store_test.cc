// Tests of Store::Open (store.cc) and Store::Submit (store_submit.cc): submissions, idempotent resubmits,
// refused batches, and what a reopened file keeps.

#include "broker/store.h"

#include <gtest/gtest.h>

#include <set>

#include "broker/store_test_util.h"

namespace leaseq::testing {
namespace {

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

// ------------------------------------------- submit, 64 rows per INSERT
// Tasks without dependencies go in 64 at a time (store_submit.cc); these
// cross that batch's edges.

std::vector<TaskSpec> Numbered(int n) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(Task("k" + std::to_string(i)));
  return tasks;
}

TEST_F(StoreTest, ASubmissionOfSeveralBatchesIsStoredWholeInItsOrder) {
  ASSERT_OK(Submit(Numbered(150)));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 150);
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 150);
  EXPECT_EQ(QueryInt("SELECT sum(n) FROM queue_counts WHERE queue = 'default' AND state = 'queued'"),
            150);
  // ids follow the submission's order, so dispatch does too
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks a JOIN tasks b ON b.id = a.id + 1 "
                     "WHERE CAST(substr(b.key, 2) AS INTEGER) <> CAST(substr(a.key, 2) AS INTEGER) + 1"),
            0);
  EXPECT_EQ(Claim("w1", 1).at(0).key, "k0");
}

TEST_F(StoreTest, AKeyAlreadyStoredInAFullBatchIsANoOpForItAlone) {
  ASSERT_OK(Submit({Task("k5")}));
  Run("k5", "out");
  ASSERT_OK(Submit(Numbered(130)));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 130);
  EXPECT_EQ(State("k5"), "done");
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 129);
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'done'"), 1);
}

TEST_F(StoreTest, AConflictInTheSecondBatchNamesItsIndexAndStoresNothing) {
  ASSERT_OK(Submit({Task("k70")}));
  std::vector<TaskSpec> tasks = Numbered(130);
  tasks[70].priority = 3;
  int bad = -1;
  Status s = Submit(tasks, &bad);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_TRUE(Contains(s.message(), "'k70'")) << s.message();
  EXPECT_EQ(bad, 70);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 1);
}

TEST_F(StoreTest, TheSameKeyTwiceInAFullBatchIsStoredOnceOrRefusedAtTheSecond) {
  std::vector<TaskSpec> tasks = Numbered(64);
  tasks[40] = tasks[10];
  ASSERT_OK(Submit(tasks));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 63);
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 63);
  std::vector<TaskSpec> other = Numbered(64);
  for (auto& t : other) t.key += "-b";
  other[40] = other[10];
  other[40].input = "different";
  int bad = -1;
  EXPECT_EQ(Submit(other, &bad).code(), Status::Code::kConflict);
  EXPECT_EQ(bad, 40);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 63);
}

TEST_F(StoreTest, ATaskMayWaitForOneOfThePendingBatch) {
  std::vector<TaskSpec> tasks = Numbered(100);
  tasks[10].after = {"k3"};
  tasks[90].after = {"k80", "k10"};
  ASSERT_OK(Submit(tasks));
  EXPECT_EQ(State("k10"), "waiting");
  EXPECT_EQ(State("k90"), "waiting");
  EXPECT_EQ(Show("k90")["after"], nlohmann::json({"k80", "k10"}));
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 98);
}

TEST_F(StoreTest, TheEarliestTaskAtFaultIsNamedWhenALaterOneIsMalformed) {
  ASSERT_OK(Submit({Task("k5")}));
  std::vector<TaskSpec> tasks = Numbered(20);
  tasks[5].priority = 1;  // a conflict, found when the batch goes in
  tasks[12].key = "";     // found as it is read
  int bad = -1;
  EXPECT_EQ(Submit(tasks, &bad).code(), Status::Code::kConflict);
  EXPECT_EQ(bad, 5);
  tasks[5].priority = 0;
  EXPECT_EQ(Submit(tasks, &bad).code(), Status::Code::kInvalid);
  EXPECT_EQ(bad, 12);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 1);
}

// ---------------------------------------------------------------- open

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
