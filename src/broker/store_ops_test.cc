// Store: the operators' requests: pause, list, bulk retry and cancel, purge,
// per-queue status, online backup.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "broker/online_backup.h"
#include "broker/store.h"
#include "broker/store_internal.h"
#include "broker/store_test_util.h"

namespace leaseq::testing {
namespace {

TaskSpec InQueue(const std::string& key, const std::string& queue,
                 std::vector<std::string> after = {}) {
  TaskSpec t = Task(key, std::move(after));
  t.queue = queue;
  return t;
}

class StoreOpsTest : public StoreTest {
 protected:
  bool Pause(const std::string& queue, bool pause = true) {
    bool changed = false;
    EXPECT_TRUE(store_->Begin().ok());
    Status s = pause ? store_->Pause(queue, Now(), &changed) : store_->Resume(queue, &changed);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(store_->Commit().ok());
    return changed;
  }
  std::vector<std::string> ListKeys(const std::string& state, const std::string& queue = "",
                                    int64_t limit = 100) {
    std::vector<TaskRow> rows;
    ListFilter f{state, queue, limit};
    Status s = store_->List(f, &rows);
    EXPECT_TRUE(s.ok()) << s.message();
    std::vector<std::string> keys;
    for (const auto& r : rows) keys.push_back(r.key);
    return keys;
  }
  // Purges in batches, as leaseq-ctl does, until the store says no more.
  int64_t PurgeAll(const std::string& state, const std::string& queue = "", int64_t bound = 0,
                   int batch = 500) {
    ScanCursor c;
    c.bound = bound == 0 ? Now() + 1 : bound;
    int64_t total = 0;
    for (int i = 0; i < 10000; ++i) {
      int64_t deleted = 0;
      bool more = false;
      EXPECT_TRUE(store_->Begin().ok());
      Status s = store_->Purge(state, queue, batch, &c, &deleted, &more);
      EXPECT_TRUE(s.ok()) << s.message();
      EXPECT_TRUE(store_->Commit().ok());
      total += deleted;
      if (!more) return total;
    }
    ADD_FAILURE() << "purge did not end";
    return total;
  }
  void Fail(const std::string& key) { EXPECT_TRUE(Complete("w1", ClaimOne("w1", key).attempt_id, 3, "", "boom\nmore")); }
  // The counters agree with the rows, per state and per queue.
  void ExpectCountersExact() { EXPECT_EQ(CounterMismatches(path_), ""); }
};

// ---------------------------------------------------------------- pause

TEST_F(StoreOpsTest, APausedQueueLeasesNothingUntilResumedAndStaysPausedAcrossAReopen) {
  ASSERT_OK(Submit({InQueue("g1", "gpu"), InQueue("g2", "gpu"), Task("c1")}));
  EXPECT_TRUE(Pause("gpu"));
  EXPECT_FALSE(Pause("gpu"));  // already
  auto got = Claim("w1", 10, {"gpu", "default"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "c1");
  Reopen();
  EXPECT_EQ(store_->paused_queues(), std::set<std::string>{"gpu"});
  EXPECT_TRUE(Claim("w1", 10, {"gpu"}).empty());
  EXPECT_TRUE(Pause("gpu", false));
  EXPECT_FALSE(Pause("gpu", false));
  EXPECT_EQ(Claim("w1", 10, {"gpu"}).size(), 2u);
}

TEST_F(StoreOpsTest, RunningTasksOfAPausedQueueFinish) {
  ASSERT_OK(Submit({InQueue("g1", "gpu"), InQueue("g2", "gpu")}));
  auto got = Claim("w1", 2, {"gpu"});
  ASSERT_EQ(got.size(), 2u);
  Pause("gpu");
  Release("w1", got[0].attempt_id);  // handed back: queued, and not leased again
  EXPECT_TRUE(Claim("w2", 10, {"gpu"}).empty());
  EXPECT_EQ(State(got[0].key), "queued");
  EXPECT_TRUE(Succeed(got[1], "ok"));
  EXPECT_EQ(State(got[1].key), "done");
}

TEST_F(StoreOpsTest, APauseRolledBackIsForgotten) {
  ASSERT_OK(Submit({InQueue("g1", "gpu")}));
  bool changed = false;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->Pause("gpu", Now(), &changed));
  store_->Rollback();
  EXPECT_TRUE(store_->paused_queues().empty());
  EXPECT_EQ(Claim("w1", 10, {"gpu"}).size(), 1u);
}

// ---------------------------------------------------------------- list

TEST_F(StoreOpsTest, ListIsBoundedByItsLimitAndFiltersByStateAndQueue) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 30; ++i) tasks.push_back(InQueue("q" + std::to_string(i), i % 2 ? "odd" : "even"));
  tasks.push_back(Task("f1"));
  tasks.push_back(Task("f2"));
  ASSERT_OK(Submit(tasks));
  Pause("odd");
  Pause("even");
  clock_.Advance(10);
  Fail("f1");
  clock_.Advance(10);
  Fail("f2");
  EXPECT_EQ(ListKeys("queued", "", 5).size(), 5u);
  EXPECT_EQ(ListKeys("queued", "", 0).size(), 0u);
  EXPECT_EQ(ListKeys("queued").size(), 30u);
  EXPECT_EQ(ListKeys("queued", "odd").size(), 15u);
  EXPECT_TRUE(ListKeys("queued", "nope").empty());
  EXPECT_EQ(ListKeys("failed"), (std::vector<std::string>{"f1", "f2"}));  // oldest first
  // No state: failed first, and the limit counts across states.
  auto all = ListKeys("", "", 3);
  EXPECT_EQ(all, (std::vector<std::string>{"f1", "f2", "q0"}));
  std::vector<TaskRow> rows;
  ASSERT_OK(store_->List({"failed", "", 1}, &rows));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].error, "exit status 3: boom");  // the first line only
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[0].queue, "default");
  EXPECT_EQ(store_->List({"bogus", "", 1}, &rows).code(), Status::Code::kInvalid);
}

TEST_F(StoreOpsTest, ListFindsRunningAndWaitingTasksAndQueuedOnesInDispatchOrder) {
  TaskSpec urgent = InQueue("urgent", "b");
  urgent.priority = 5;
  ASSERT_OK(Submit({Task("r1"), Task("w1", {"r1"}), InQueue("b1", "b"), urgent, InQueue("w2", "b", {"r1"})}));
  ClaimOne("w1", "r1");
  EXPECT_EQ(ListKeys("running"), (std::vector<std::string>{"r1"}));
  EXPECT_TRUE(ListKeys("running", "b").empty());
  EXPECT_EQ(ListKeys("waiting"), (std::vector<std::string>{"w2", "w1"}));  // queue b, then default
  EXPECT_EQ(ListKeys("waiting", "default"), (std::vector<std::string>{"w1"}));
  EXPECT_EQ(ListKeys("queued", "b"), (std::vector<std::string>{"urgent", "b1"}));
  EXPECT_EQ(ListKeys(""), (std::vector<std::string>{"r1", "urgent", "b1", "w2", "w1"}));
}

TEST_F(StoreOpsTest, ListAndPurgeReadIndexRangesNotTheTable) {
  auto db = Reader();
  auto plan = [&](const std::string& sql) {
    SQLite::Statement q(*db, "EXPLAIN QUERY PLAN " + sql);
    std::string text;
    while (q.executeStep()) text += q.getColumn(3).getString() + "\n";
    return text;
  };
  for (const char* sql : {
           "SELECT key FROM tasks INDEXED BY tasks_finished WHERE " LEASEQ_FINISHED
           " AND state = 'failed' ORDER BY queue, updated_at, id LIMIT 5",
           "SELECT key FROM tasks INDEXED BY tasks_waiting WHERE state = 'waiting' AND queue = 'q' "
           "ORDER BY updated_at, id LIMIT 5",
           "SELECT key FROM tasks INDEXED BY tasks_dispatch WHERE state = 'queued' AND ready_at = 0 "
           "AND queue = 'q' AND priority < 3 ORDER BY priority DESC, id LIMIT 1",
           "SELECT id FROM tasks INDEXED BY tasks_finished WHERE " LEASEQ_FINISHED
           " AND state = 'done' AND queue = 'q' AND (updated_at, id) < (5, 0) "
           "ORDER BY updated_at DESC, id DESC LIMIT 5"}) {
    const std::string p = plan(sql);
    EXPECT_EQ(p.find("SCAN tasks"), std::string::npos) << sql << "\n" << p;
    EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << sql << "\n" << p;
  }
  // Only the queries that name its condition use tasks_finished.
  EXPECT_EQ(plan("SELECT key FROM tasks WHERE state = 'failed' AND queue = 'q'").find("tasks_finished"),
            std::string::npos);
  // Writing a task builds no ephemeral table (an IN list in a partial
  // index or a CHECK constraint would: sql/migrate_v2.sql).
  int ephemeral = 0;
  SQLite::Database rw(path_, SQLite::OPEN_READWRITE);  // read-only, SQLite skips the CHECKs
  SQLite::Statement code(rw, "EXPLAIN UPDATE tasks SET state = 'done', updated_at = 5 WHERE id = 3");
  while (code.executeStep()) ephemeral += code.getColumn(1).getString() == "OpenEphemeral";
  EXPECT_EQ(ephemeral, 0);
  // The lookups that were there before keep their own indexes.
  const std::string release = plan(
      "UPDATE tasks SET state = 'queued' WHERE id IN (SELECT task_id FROM task_deps WHERE "
      "dep_id = 1) AND state = 'waiting' AND unfinished_deps = 0");
  EXPECT_NE(release.find("INTEGER PRIMARY KEY"), std::string::npos) << release;
}

// ---------------------------------------------------------------- status

TEST_F(StoreOpsTest, QueueStatusesCountByQueueAndFunctionAndFindTheOldestQueued) {
  TaskSpec fn_task = InQueue("e1", "gpu");
  fn_task.cmd.clear();
  fn_task.fn = "resize";
  fn_task.priority = 9;  // goes out first, yet g1 is older
  TaskSpec low = InQueue("g0", "gpu");
  low.priority = -2;
  ASSERT_OK(Submit({InQueue("g1", "gpu")}));
  const int64_t first = Now();
  clock_.Advance(5000);
  ASSERT_OK(Submit({fn_task, low, Task("c1"), Task("c2")}));
  Run("c1");
  Pause("idle");
  std::map<std::string, QueueStatus> q;
  ASSERT_OK(store_->QueueStatuses(&q));
  EXPECT_EQ(q["gpu"].counts["queued"], 3);
  EXPECT_EQ(q["gpu"].queued_by_fn[""], 2);
  EXPECT_EQ(q["gpu"].queued_by_fn["resize"], 1);
  EXPECT_EQ(q["gpu"].oldest_queued_created_at, first);
  EXPECT_FALSE(q["gpu"].paused);
  EXPECT_EQ(q["default"].counts["done"], 1);
  EXPECT_EQ(q["default"].counts["queued"], 1);
  EXPECT_TRUE(q["idle"].paused);
  EXPECT_EQ(q["idle"].oldest_queued_created_at, 0);
}

// ---------------------------------------------------------------- bulk

TEST_F(StoreOpsTest, RetryByStateGoesInBatchesAndTakesEachTaskOnce) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 25; ++i) tasks.push_back(InQueue("t" + std::to_string(i), i < 20 ? "a" : "b"));
  ASSERT_OK(Submit(tasks));
  for (const auto& a : Claim("w1", 100, {"a", "b"})) EXPECT_TRUE(Complete("w1", a.attempt_id, 1));
  ScanCursor c;
  c.bound = Now() + 1;
  int64_t total = 0;
  int batches = 0;
  bool more = true;
  while (more) {
    int64_t changed = 0;
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->RetryMatching("failed", "a", 7, Now(), &c, &changed, &more));
    ASSERT_OK(store_->Commit());
    total += changed;
    ++batches;
    // Fail again what was retried: newer than the bound, never taken twice.
    clock_.Advance(1);
    for (const auto& a : Claim("w1", 100, {"a"})) EXPECT_TRUE(Complete("w1", a.attempt_id, 1));
  }
  EXPECT_EQ(total, 20);
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks WHERE state = 'failed' AND queue = 'b'"), 5);
  int64_t changed = 0;
  ASSERT_OK(store_->Begin());
  EXPECT_EQ(store_->RetryMatching("done", "", 7, Now(), &c, &changed, &more).code(),
            Status::Code::kInvalid);
  store_->Rollback();
  ExpectCountersExact();
}

TEST_F(StoreOpsTest, CancelQueueCancelsEveryUnfinishedTaskOfItInBatches) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 12; ++i) tasks.push_back(InQueue("t" + std::to_string(i), "a"));
  tasks.push_back(InQueue("w", "a", {"t0"}));
  tasks.push_back(InQueue("elsewhere", "b", {"t1"}));
  ASSERT_OK(Submit(tasks));
  auto running = Claim("w1", 3, {"a"});
  ASSERT_EQ(running.size(), 3u);
  int64_t total = 0;
  std::vector<LeasedAttempt> aborts;
  bool more = true;
  while (more) {
    int64_t changed = 0;
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->CancelQueue("a", 5, Now(), &changed, &aborts, &more));
    ASSERT_OK(store_->Commit());
    total += changed;
  }
  EXPECT_EQ(total, 13);
  EXPECT_EQ(aborts.size(), 3u);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks WHERE queue = 'a' AND state = 'cancelled'"), 13);
  EXPECT_EQ(State("w"), "cancelled");        // a waiting task goes first: cancelled itself
  EXPECT_EQ(State("elsewhere"), "failed");   // another queue's dependent fails
  ExpectCountersExact();
}

// ---------------------------------------------------------------- purge

TEST_F(StoreOpsTest, PurgeDeletesFinishedTasksWithTheirRowsAndKeepsCountersExact) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 40; ++i) tasks.push_back(InQueue("d" + std::to_string(i), i % 3 ? "a" : "b"));
  tasks.push_back(Task("f"));
  tasks.push_back(Task("q"));
  ASSERT_OK(Submit(tasks));
  for (const auto& a : Claim("w1", 100, {"a", "b"})) EXPECT_TRUE(Succeed(a, "out"));
  Fail("f");
  EXPECT_EQ(PurgeAll("done", "", 0, 7), 40);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM attempts"), 1);  // f's
  EXPECT_EQ(State("f"), "failed");
  EXPECT_EQ(State("q"), "queued");
  ExpectCountersExact();
  nlohmann::json counts, workers;
  ASSERT_OK(store_->Counts(&counts, &workers));
  EXPECT_EQ(counts["done"], 0);
  // The keys are free again.
  ASSERT_OK(Submit({InQueue("d0", "b")}));
  EXPECT_EQ(State("d0"), "queued");
}

TEST_F(StoreOpsTest, PurgeKeepsATaskThatAStoredTaskRunsAfter) {
  // c <- d, both done; x <- y, y cancelled before x ended; a <- b, b queued.
  ASSERT_OK(Submit({Task("c"), Task("d", {"c"}), Task("x"), Task("y", {"x"}), Task("a"),
                    Task("b", {"a"})}));
  Run("c", "C");
  Run("d", "D");
  ASSERT_OK(Cancel({"y"}));
  clock_.Advance(10);
  Run("x", "X");  // ends after its cancelled dependent
  Run("a", "A");
  EXPECT_EQ(PurgeAll("done"), 2);  // d, then c in the same sweep
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks WHERE key IN ('c', 'd')"), 0);
  EXPECT_EQ(State("x"), "done");   // y is still stored
  EXPECT_EQ(State("a"), "done");   // b still needs its result
  EXPECT_EQ(PurgeAll("cancelled"), 1);  // y
  EXPECT_EQ(PurgeAll("done"), 1);       // x, free now
  EXPECT_EQ(State("b"), "queued");
  EXPECT_EQ(ClaimOne("w1", "b").stdin_bytes, "A");
  ExpectCountersExact();
}

TEST_F(StoreOpsTest, PurgeOfALongChainGoesInOneSweep) {
  std::vector<TaskSpec> tasks{Task("c0")};
  for (int i = 1; i < 300; ++i) tasks.push_back(Task("c" + std::to_string(i), {"c" + std::to_string(i - 1)}));
  ASSERT_OK(Submit(tasks));
  for (int i = 0; i < 300; ++i) Run("c" + std::to_string(i));
  EXPECT_EQ(PurgeAll("done", "", 0, 50), 300);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM task_deps"), 0);
  ExpectCountersExact();
}

TEST_F(StoreOpsTest, PurgeTakesOnlyTasksOlderThanTheBoundAndOfTheQueue) {
  ASSERT_OK(Submit({Task("old"), InQueue("old_b", "b"), Task("new")}));
  Run("old");
  auto b = Claim("w1", 1, {"b"});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(Succeed(b[0]));
  clock_.Advance(60'000);
  Run("new");
  EXPECT_EQ(PurgeAll("done", "default", Now() - 30'000), 1);
  EXPECT_EQ(State("new"), "done");
  EXPECT_EQ(State("old_b"), "done");
  EXPECT_EQ(PurgeAll("done", "", Now() - 30'000), 1);
  EXPECT_EQ(State("new"), "done");
  ScanCursor c;
  int64_t deleted = 0;
  bool more = false;
  ASSERT_OK(store_->Begin());
  EXPECT_EQ(store_->Purge("queued", "", 10, &c, &deleted, &more).code(), Status::Code::kInvalid);
  store_->Rollback();
}

TEST_F(StoreOpsTest, FreePagesGoBackToTheFileSystem) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 200; ++i) {
    tasks.push_back(Task("t" + std::to_string(i)));
    tasks.back().input = std::string(8000, 'x');
  }
  ASSERT_OK(Submit(tasks));
  for (const auto& a : Claim("w1", 1000)) EXPECT_TRUE(Succeed(a, std::string(8000, 'y')));
  const int64_t pages = QueryInt("PRAGMA page_count");
  EXPECT_EQ(PurgeAll("done"), 200);
  EXPECT_GT(QueryInt("PRAGMA freelist_count"), 100);
  int64_t reclaimed = 0;
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->ReclaimFreePages(100000, &reclaimed));
  ASSERT_OK(store_->Commit());
  EXPECT_GT(reclaimed, 100);
  EXPECT_EQ(QueryInt("PRAGMA freelist_count"), 0);
  EXPECT_LT(QueryInt("PRAGMA page_count"), pages / 2);
}

// ---------------------------------------------------------------- backup

TEST_F(StoreOpsTest, AnOnlineBackupIsConsistentAndHasWhatWasCommittedWhileItRan) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 300; ++i) {
    tasks.push_back(Task("t" + std::to_string(i)));
    tasks.back().input = std::string(4000, 'x');
  }
  ASSERT_OK(Submit(tasks));
  const std::string copy = dir_ + "/copy.db";
  std::unique_ptr<OnlineBackup> backup;
  EXPECT_EQ(store_->StartBackup(path_, &backup).code(), Status::Code::kInvalid);  // exists
  ASSERT_OK(store_->StartBackup(copy, &backup));
  BackupProgress p;
  int steps = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!p.done) {
    ASSERT_OK(backup->Step(8, &p));
    // The broker goes on between steps.
    if (++steps == 3) Run("t0", "done while copying");
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  }
  EXPECT_GT(steps, 10);
  EXPECT_EQ(p.pages_done, p.pages_total);
  EXPECT_FALSE(std::filesystem::exists(copy + ".partial"));
  backup.reset();
  EXPECT_EQ(store_->StartBackup(copy, &backup).code(), Status::Code::kInvalid);  // never overwrites
  store_.reset();
  std::unique_ptr<Store> copied;
  ASSERT_OK(Store::Open(copy, Durability::kNormal, kTestSettings, &copied));
  std::string state, result;
  ASSERT_OK(copied->Fetch("t0", &state, &result));
  EXPECT_EQ(result, "done while copying");
  nlohmann::json counts, workers;
  ASSERT_OK(copied->Counts(&counts, &workers));
  EXPECT_EQ(counts["queued"], 299);
  EXPECT_EQ(counts["done"], 1);
  SQLite::Database db(copy, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
}

TEST_F(StoreOpsTest, AnAbandonedBackupLeavesNoFile) {
  ASSERT_OK(Submit({Task("a")}));
  const std::string copy = dir_ + "/copy.db";
  std::unique_ptr<OnlineBackup> backup;
  ASSERT_OK(store_->StartBackup(copy, &backup));
  BackupProgress p;
  ASSERT_OK(backup->Step(1, &p));
  backup.reset();
  EXPECT_FALSE(std::filesystem::exists(copy));
  EXPECT_FALSE(std::filesystem::exists(copy + ".partial"));
  EXPECT_EQ(store_->StartBackup(dir_ + "/no/such/dir/x.db", &backup).code(), Status::Code::kInvalid);
}

}  // namespace
}  // namespace leaseq::testing
