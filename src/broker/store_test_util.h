// Test fixture for Store: a real SQLite file in a fresh temp directory,
// removed at the end, and helpers that bracket each call in a transaction
// as the broker loop does. Times are wall ms from a FakeClock.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/store.h"
#include "common/clock.h"
#include "tools/testing/temp_dir.h"

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    const ::leaseq::Status _s = (expr);                  \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.message(); \
  } while (0)

namespace leaseq::testing {

inline const rules::Settings kTestSettings{1000, 3, 3};

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// How task_state_counts and queue_counts differ from what the rows of tasks
// say, as a user would count them with sqlite3 (GROUP BY): one line per
// difference, empty when they agree. Counter rows with n = 0 need no task.
inline std::string CounterMismatches(SQLite::Database& db) {
  std::string out;
  auto collect = [&](const char* what, const std::string& sql) {
    SQLite::Statement q(db, sql);
    while (q.executeStep()) {
      out += what;
      for (int i = 0; i < q.getColumnCount(); ++i) out += " " + q.getColumn(i).getString();
      out += "\n";
    }
  };
  collect("task_state_counts says",
          "SELECT state, n FROM task_state_counts WHERE n <> 0 "
          "EXCEPT SELECT state, count(*) FROM tasks GROUP BY 1");
  collect("tasks has",
          "SELECT state, count(*) FROM tasks GROUP BY 1 EXCEPT SELECT state, n FROM task_state_counts");
  collect("queue_counts says",
          "SELECT queue, fn, state, n FROM queue_counts WHERE n <> 0 EXCEPT "
          "SELECT queue, coalesce(fn, ''), state, count(*) FROM tasks GROUP BY 1, 2, 3");
  collect("tasks per queue has",
          "SELECT queue, coalesce(fn, ''), state, count(*) FROM tasks GROUP BY 1, 2, 3 "
          "EXCEPT SELECT queue, fn, state, n FROM queue_counts");
  return out;
}
inline std::string CounterMismatches(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return CounterMismatches(db);
}

inline TaskSpec Task(const std::string& key, std::vector<std::string> after = {},
                     int64_t retries = 0) {
  TaskSpec t;
  t.key = key;
  t.cmd = {"sh", "-c", "true"};
  t.after = std::move(after);
  t.retries = retries;
  return t;
}

inline WorkerRecord Worker(const std::string& name, std::vector<std::string> queues = {"default"},
                           const std::string& session = "session-1") {
  WorkerRecord w;
  w.name = name;
  w.pid = 4242;
  w.host = "localhost";
  w.session = session;
  w.slots = 4;
  w.queues = std::move(queues);
  return w;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tmp_.File("leaseq.db");
    Reopen();
    RegisterAs(Worker("w1"));
    RegisterAs(Worker("w2"));
  }

  void TearDown() override { store_.reset(); }

  int64_t Now() const { return clock_.WallMs(); }

  void Reopen() {
    store_.reset();
    ASSERT_OK(Store::Open(path_, Durability::kNormal, kTestSettings, &store_));
  }

  // Each helper is one transaction, as one pass of the broker loop.
  Status Submit(const std::vector<TaskSpec>& tasks, int* bad_index = nullptr) {
    int bad = -2;
    Status b = store_->Begin();
    if (!b.ok()) return b;
    Status s = store_->Submit(tasks, Now(), &bad);
    Status c = store_->Commit();
    if (bad_index) *bad_index = bad;
    return s.ok() ? c : s;
  }

  bool RegisterAs(const WorkerRecord& w) {
    bool same = false;
    EXPECT_TRUE(store_->Begin().ok());
    Status s = store_->RegisterWorker(w, Now(), &same);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(store_->Commit().ok());
    return same;
  }

  std::vector<Assignment> Claim(const std::string& worker, int64_t n = 100,
                                std::vector<std::string> queues = {"default"}) {
    return ClaimAt(Worker(worker, std::move(queues)), n, Now());
  }
  // As a broker pass does: wakes the tasks due at now, then claims.
  std::vector<Assignment> ClaimAt(const WorkerRecord& w, int64_t n, int64_t now) {
    std::vector<Assignment> out;
    EXPECT_TRUE(store_->Begin().ok());
    int64_t woken = 0;
    EXPECT_TRUE(store_->WakeDue(now, 10000, &woken).ok());
    Status s = store_->Claim(w, n, now, &out);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(store_->Commit().ok());
    return out;
  }
  // One pass's wake-up of the tasks whose time has come (WakeDue).
  int64_t WakeAt(int64_t now) {
    int64_t woken = -1;
    EXPECT_TRUE(store_->Begin().ok());
    Status s = store_->WakeDue(now, 10000, &woken);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(store_->Commit().ok());
    return woken;
  }
  // Claims exactly one task and returns it (key checked when given).
  Assignment ClaimOne(const std::string& worker, const std::string& key = "") {
    auto got = Claim(worker, 1);
    EXPECT_EQ(got.size(), 1u);
    if (got.empty()) return {};
    if (!key.empty()) {
      EXPECT_EQ(got[0].key, key);
    }
    return got[0];
  }

  bool Complete(const std::string& worker, int64_t attempt_id, int exit_code,
                const std::string& out = "", const std::string& err = "", int signal = 0) {
    AttemptResult r;
    r.attempt_id = attempt_id;
    r.exit_code = exit_code;
    r.signal = signal;
    r.stdout_bytes = out;
    r.error = err;
    bool applied = false;
    EXPECT_TRUE(store_->Begin().ok());
    Status s = store_->Complete(worker, r, Now(), &applied);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(store_->Commit().ok());
    return applied;
  }
  bool Succeed(const Assignment& a, const std::string& out = "", const std::string& worker = "w1") {
    return Complete(worker, a.attempt_id, 0, out);
  }
  // Claims the task and completes it with the given stdout.
  void Run(const std::string& key, const std::string& out = "") {
    Assignment a = ClaimOne("w1", key);
    EXPECT_TRUE(Succeed(a, out));
  }

  // A death by default: the tests of suspicion and failure mean one.
  void Lose(int64_t attempt_id, rules::Blame blame = rules::Blame::kDeath) {
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->Lose(attempt_id, Now(), "worker lost", blame));
    ASSERT_OK(store_->Commit());
  }
  void Release(const std::string& worker, int64_t attempt_id) {
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->Release(worker, attempt_id, Now()));
    ASSERT_OK(store_->Commit());
  }
  Status Cancel(const std::vector<std::string>& keys, std::vector<LeasedAttempt>* aborts = nullptr,
                std::vector<std::string>* changed = nullptr) {
    std::vector<LeasedAttempt> a;
    std::vector<std::string> c;
    EXPECT_TRUE(store_->Begin().ok());
    Status s = store_->Cancel(keys, Now(), &c, &a);
    EXPECT_TRUE(store_->Commit().ok());
    if (aborts) *aborts = a;
    if (changed) *changed = c;
    return s;
  }
  Status Retry(const std::vector<std::string>& keys, std::vector<std::string>* changed = nullptr) {
    std::vector<std::string> c;
    EXPECT_TRUE(store_->Begin().ok());
    Status s = store_->Retry(keys, Now(), &c);
    EXPECT_TRUE(store_->Commit().ok());
    if (changed) *changed = c;
    return s;
  }

  nlohmann::json Show(const std::string& key) {
    nlohmann::json j;
    Status s = store_->Show(key, &j);
    EXPECT_TRUE(s.ok()) << s.message();
    return j;
  }
  std::string State(const std::string& key) { return Show(key).value("state", "?"); }
  std::string Error(const std::string& key) {
    auto j = Show(key);
    return j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
  }
  int64_t Suspicious(const std::string& key) { return Show(key).value("suspicious", -1); }
  int64_t Deaths(const std::string& key) { return Show(key).value("deaths", -1); }
  std::vector<std::string> Outcomes(const std::string& key) {
    std::vector<std::string> out;
    const nlohmann::json j = Show(key);
    for (const auto& a : j["attempts"]) out.push_back(a["outcome"].get<std::string>());
    return out;
  }

  // A second, read-only connection: what a user sees with sqlite3.
  std::unique_ptr<SQLite::Database> Reader() {
    return std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READONLY);
  }
  int64_t QueryInt(const std::string& sql) { return Reader()->execAndGet(sql).getInt64(); }

  FakeClock clock_;
  test_support::TempDir tmp_{"leaseq-store-test"};  // outlives store_
  const std::string dir_ = tmp_.path();
  std::string path_;
  std::unique_ptr<Store> store_;
};

}  // namespace leaseq::testing
