// Store: the task counters (task_state_counts, queue_counts), which the store
// adds up in memory and writes at commit (state_counters.h), agree with the
// rows after every committed or rolled-back pass, through a random mix of
// every operation that inserts, moves or deletes a task.
#include <gtest/gtest.h>

#include <random>

#include "broker/state_counters.h"
#include "broker/store.h"
#include "broker/store_test_util.h"

namespace leaseq::testing {
namespace {

TEST(StateCountersTest, AddsUpNetChangesPerRowAndLeavesOutThoseThatCancel) {
  StateCounters c;
  EXPECT_TRUE(c.empty());
  c.Insert("q", "", TaskState::kQueued);
  c.Insert("q", "", TaskState::kQueued);
  c.Move("q", "", TaskState::kQueued, TaskState::kRunning);
  c.Move("q", "", TaskState::kRunning, TaskState::kDone);
  c.Move("q", "f", TaskState::kWaiting, TaskState::kWaiting);  // no change
  c.Insert("r", "f", TaskState::kWaiting);
  c.Remove("r", "f", TaskState::kWaiting);
  const auto changes = c.Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].queue, "q");
  EXPECT_EQ(changes[0].state, TaskState::kQueued);
  EXPECT_EQ(changes[0].delta, 1);
  EXPECT_EQ(changes[1].state, TaskState::kDone);
  EXPECT_EQ(changes[1].delta, 1);
  const auto by_state = c.ByState();
  EXPECT_EQ(by_state[static_cast<size_t>(TaskState::kQueued)], 1);
  EXPECT_EQ(by_state[static_cast<size_t>(TaskState::kRunning)], 0);
  EXPECT_EQ(by_state[static_cast<size_t>(TaskState::kDone)], 1);
  StateCounters saved = c.Save();
  c.Insert("s", "", TaskState::kQueued);
  c = std::move(saved);
  EXPECT_EQ(c.Changes().size(), 2u);
  c.Clear();
  EXPECT_TRUE(c.empty());
}

// One pass of the broker: a few random operations in one transaction, then
// a commit or (sometimes) a rollback.
class StoreCountersTest : public StoreTest {
 protected:
  std::mt19937 rng_;
  // The keys stored when the pass began (one purged since is refused as
  // unknown, which changes nothing).
  std::vector<std::string> keys_;
  int next_key_ = 0;
  int session_ = 1;
  // Bulk retry and purge go on over passes, as the broker runs them.
  ScanCursor retry_cursor_, purge_cursor_;
  bool retry_more_ = false, purge_more_ = false;

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Pick(100) < percent; }
  std::string AnyKey() {
    if (keys_.empty()) return "";
    return keys_[Pick(static_cast<int>(keys_.size()))];
  }
  WorkerRecord AWorker(const std::string& name) {
    WorkerRecord w = Worker(name, {"q0", "q1"}, "session-" + std::to_string(session_));
    w.fns = {"f1", "f2"};
    return w;
  }
  std::string AWorkerName() { return Chance(50) ? "w1" : "w2"; }
  // A running attempt of w1 or w2, or 0.
  std::pair<std::string, int64_t> ARunningAttempt() {
    const std::string w = AWorkerName();
    std::vector<int64_t> ids;
    EXPECT_TRUE(store_->RunningAttemptsOf(w, &ids).ok());
    if (ids.empty()) return {w, 0};
    return {w, ids[Pick(static_cast<int>(ids.size()))]};
  }

  void SubmitSome(int64_t now) {
    std::vector<TaskSpec> tasks;
    const int n = 1 + Pick(4);
    for (int i = 0; i < n; ++i) {
      TaskSpec t;
      t.key = "k" + std::to_string(next_key_++);
      t.queue = Chance(50) ? "q0" : "q1";
      const int kind = Pick(3);
      if (kind == 0) {
        t.cmd = {"true"};
      } else {
        t.fn = kind == 1 ? "f1" : "f2";
      }
      t.retries = Pick(3);
      if (Chance(10)) t.delay_ms = 1 + Pick(3000);
      // After committed tasks, or after one of this submission.
      for (int d = Pick(3); d > 0; --d) {
        if (!tasks.empty() && Chance(40)) {
          t.after.push_back(tasks[Pick(static_cast<int>(tasks.size()))].key);
        } else if (const std::string k = AnyKey(); !k.empty()) {
          t.after.push_back(k);
        }
      }
      tasks.push_back(t);
    }
    // Sometimes a task the store refuses: the submission is rolled back to
    // its savepoint, the rest of the pass goes on.
    const bool refused = Chance(15);
    if (refused) {
      TaskSpec bad = tasks.back();
      bad.key = "bad" + std::to_string(next_key_++);
      bad.after = {"no-such-key"};
      tasks.insert(tasks.begin() + Pick(static_cast<int>(tasks.size()) + 1), bad);
    }
    int bad_index = 0;
    Status s = store_->Submit(tasks, now, &bad_index);
    if (refused) {
      EXPECT_FALSE(s.ok());
    }
    ExpectOkOrUnknownKey(s);
  }
  static void ExpectOkOrUnknownKey(const Status& s) {
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.message();
    }
  }

  void Operation(int64_t now) {
    switch (Pick(16)) {
      case 0:
      case 1:
        SubmitSome(now);
        break;
      case 2:
      case 3: {
        int64_t woken = 0;
        ASSERT_OK(store_->WakeDue(now, 100, &woken));
        std::vector<Assignment> out;
        ASSERT_OK(store_->Claim(AWorker(AWorkerName()), 1 + Pick(5), now, &out, Pick(3)));
        break;
      }
      case 4:
      case 5:
      case 6: {
        auto [w, id] = ARunningAttempt();
        if (id == 0) break;
        AttemptResult r;
        r.attempt_id = id;
        r.exit_code = Chance(60) ? 0 : 1;
        r.permanent = r.exit_code != 0 && Chance(10);
        r.stdout_bytes = "out";
        bool applied = false;
        ASSERT_OK(store_->Complete(w, r, now, &applied));
        break;
      }
      case 7: {
        auto [w, id] = ARunningAttempt();
        if (id != 0) ASSERT_OK(store_->Release(w, id, now));
        break;
      }
      case 8: {
        auto [w, id] = ARunningAttempt();
        const rules::Blame blames[] = {rules::Blame::kSuspected, rules::Blame::kDeath,
                                       rules::Blame::kNone};
        if (id != 0) ASSERT_OK(store_->Lose(id, now, "lost", blames[Pick(3)]));
        break;
      }
      case 9: {
        // A worker lost, then back as the same process or as a new one.
        const std::string w = AWorkerName();
        int n = 0;
        ASSERT_OK(store_->WorkerLost(w, now, "silent", &n));
        if (Chance(50)) ++session_;
        bool same = false;
        ASSERT_OK(store_->RegisterWorker(AWorker(w), now, &same));
        ASSERT_OK(store_->ConfirmSilentDeaths(now, now, 10, &n));
        break;
      }
      case 10: {
        std::vector<std::string> keys, changed;
        for (int i = Pick(3); i >= 0; --i) {
          if (const std::string k = AnyKey(); !k.empty()) keys.push_back(k);
        }
        std::vector<LeasedAttempt> aborts;
        ExpectOkOrUnknownKey(store_->Cancel(keys, now, &changed, &aborts));
        break;
      }
      case 11: {
        int64_t changed = 0;
        bool more = false;
        std::vector<LeasedAttempt> aborts;
        ASSERT_OK(store_->CancelQueue(Chance(50) ? "q0" : "q1", 1 + Pick(4), now, &changed,
                                      &aborts, &more));
        break;
      }
      case 12: {
        std::vector<std::string> keys, changed;
        for (int i = Pick(3); i >= 0; --i) {
          if (const std::string k = AnyKey(); !k.empty()) keys.push_back(k);
        }
        ExpectOkOrUnknownKey(store_->Retry(keys, now, &changed));
        break;
      }
      case 13: {
        int64_t changed = 0;
        if (!retry_more_) retry_cursor_ = ScanCursor{.bound = now + 1};
        ASSERT_OK(store_->RetryMatching("failed", "", 1 + Pick(4), now, &retry_cursor_, &changed,
                                        &retry_more_));
        break;
      }
      case 14:
      case 15: {
        int64_t deleted = 0;
        if (!purge_more_) purge_cursor_ = ScanCursor{.bound = now + 1};
        ASSERT_OK(store_->Purge(Chance(70) ? "done" : "cancelled", "", 1 + Pick(8), &purge_cursor_,
                                &deleted, &purge_more_));
        break;
      }
    }
  }

  void Passes(unsigned seed, int passes) {
    rng_.seed(seed);
    for (int p = 0; p < passes; ++p) {
      clock_.Advance(1 + Pick(400));
      const int64_t now = Now();
      ASSERT_OK(store_->Begin());
      for (int i = 1 + Pick(4); i > 0; --i) Operation(now);
      if (Chance(10)) {
        store_->Rollback();  // the pass fails: none of it happened
      } else {
        ASSERT_OK(store_->Commit());
      }
      auto db = Reader();
      ASSERT_EQ(CounterMismatches(*db), "") << "seed " << seed << ", pass " << p;
      keys_.clear();
      SQLite::Statement q(*db, "SELECT key FROM tasks");
      while (q.executeStep()) keys_.push_back(q.getColumn(0).getString());
      if (HasFatalFailure()) return;
    }
    // The mix did reach most states.
    EXPECT_GT(QueryInt("SELECT count(DISTINCT state) FROM tasks"), 4) << "seed " << seed;
  }
};

TEST_F(StoreCountersTest, CountersMatchTheRowsAfterEveryPassOfARandomMix) {
  for (unsigned seed : {1u, 2u, 3u, 4u}) {
    Passes(seed, 300);
    if (HasFatalFailure()) return;
  }
  // Purged tasks left counters at zero, never below.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM queue_counts WHERE n < 0"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM task_state_counts WHERE n < 0"), 0);
  EXPECT_GT(QueryInt("SELECT count(*) FROM tasks"), 0);
}

// A rolled-back pass counts nothing, and leaves nothing behind for the next.
TEST_F(StoreCountersTest, ARolledBackPassLeavesTheCountersAsTheyWere) {
  ASSERT_OK(Submit({Task("a"), Task("b", {"a"})}));
  ASSERT_OK(store_->Begin());
  int bad = 0;
  ASSERT_OK(store_->Submit({Task("c")}, Now(), &bad));
  std::vector<Assignment> out;
  ASSERT_OK(store_->Claim(Worker("w1"), 10, Now(), &out));
  store_->Rollback();
  EXPECT_EQ(CounterMismatches(path_), "");
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 1);
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'waiting'"), 1);
  // The next pass starts from nothing recorded.
  ASSERT_OK(Submit({Task("d")}));
  EXPECT_EQ(CounterMismatches(path_), "");
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'queued'"), 2);
}

// Inside a pass, readers see the pass's own changes: a status asked for in
// the pass that stored a submission counts it, and so does dispatch.
TEST_F(StoreCountersTest, ReadersInsideAPassSeeItsChanges) {
  ASSERT_OK(store_->Begin());
  int bad = 0;
  ASSERT_OK(store_->Submit({Task("a"), Task("b"), Task("c")}, Now(), &bad));
  int64_t queued = 0;
  ASSERT_OK(store_->QueuedCount(&queued));
  EXPECT_EQ(queued, 3);
  std::vector<Assignment> out;
  ASSERT_OK(store_->Claim(Worker("w1"), 1, Now(), &out));
  ASSERT_OK(store_->QueuedCount(&queued));
  EXPECT_EQ(queued, 2);
  nlohmann::json counts, workers;
  ASSERT_OK(store_->Counts(&counts, &workers));
  EXPECT_EQ(counts.value("queued", 0), 2);
  EXPECT_EQ(counts.value("running", 0), 1);
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(CounterMismatches(path_), "");
  EXPECT_EQ(QueryInt("SELECT n FROM task_state_counts WHERE state = 'running'"), 1);
}

}  // namespace
}  // namespace leaseq::testing
