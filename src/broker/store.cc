// Store: opening, schema, transactions, prepared statements.
#include "broker/store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <filesystem>

#include "broker/store_internal.h"
#include "broker/store_schema.h"

namespace leaseq {

using store_internal::Guarded;

namespace {
constexpr int kBusyTimeoutMs = 5000;
// Cap the WAL after a checkpoint so that it does not keep a large file.
constexpr int64_t kJournalSizeLimit = 64LL << 20;
constexpr int64_t kCacheKiB = 16 << 10;
// SQLite's own threshold for its automatic checkpoint, run inside COMMIT.
constexpr int kCheckpointPages = 1000;
// A WAL this large (a large submission's transaction: 180 MB for a million
// tasks) is checkpointed after the pass's replies instead (CheckpointIfDue).
constexpr int kLargeWalPages = 10000;

// SQLite's allocation statistics take a global mutex on every malloc; the
// broker never reads them. Must run before SQLite initializes (first open).
void DisableMemoryStatistics() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)done;
}
}  // namespace

Store::Store(std::unique_ptr<SQLite::Database> db, const rules::Settings& settings)
    : db_(std::move(db)), settings_(settings) {}

Store::~Store() = default;

Status Store::Open(const std::string& path, Durability durability,
                   const rules::Settings& settings, std::unique_ptr<Store>* out) {
  DisableMemoryStatistics();
  return Guarded(("opening database " + path).c_str(), [&]() -> Status {
    auto db = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
    db->setBusyTimeout(kBusyTimeoutMs);
    schema::SetUpNewFile(*db);  // before WAL mode: it writes the file
    db->exec("PRAGMA journal_mode = WAL");
    db->exec(durability == Durability::kFull ? "PRAGMA synchronous = FULL"
                                             : "PRAGMA synchronous = NORMAL");
    db->exec("PRAGMA journal_size_limit = " + std::to_string(kJournalSizeLimit));
    // Hot pages (the dispatch index, recent tasks and attempts) stay in
    // memory; the cache fills only with pages touched, up to this bound.
    db->exec("PRAGMA cache_size = -" + std::to_string(kCacheKiB));
    int migrated_from = 0;
    Status s = schema::Prepare(*db, path, &migrated_from);
    if (!s.ok()) return s;
    std::unique_ptr<Store> store(new Store(std::move(db), settings));
    store->migrated_from_ = migrated_from;
    // SQLite's automatic checkpoint, but for a large WAL (CheckpointIfDue).
    sqlite3_wal_hook(
        store->db_->getHandle(),
        [](void* self, sqlite3* db, const char* name, int pages) {
          if (pages >= kLargeWalPages) {
            static_cast<Store*>(self)->checkpoint_due_ = true;
          } else if (pages >= kCheckpointPages) {
            sqlite3_wal_checkpoint(db, name);  // what SQLite's own hook does
          }
          return SQLITE_OK;
        },
        store.get());
    s = store->LoadPausedQueues();
    if (!s.ok()) return s;
    *out = std::move(store);
    return Status::Ok();
  });
}

Status Store::OpenReadOnly(const std::string& path, std::unique_ptr<Store>* out) {
  if (!std::filesystem::exists(path)) return Status::NotFound("no database file " + path);
  return Guarded(("opening database " + path + " to read").c_str(), [&]() -> Status {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX);
    db->setBusyTimeout(kBusyTimeoutMs);
    std::unique_ptr<Store> store(new Store(std::move(db), rules::Settings{}));
    Status s = store->LoadPausedQueues();
    if (!s.ok()) return s;
    *out = std::move(store);
    return Status::Ok();
  });
}

Status Store::BeginRead() {
  return Guarded("begin", [&]() -> Status {
    db_->exec("BEGIN");
    return Status::Ok();
  });
}

SQLite::Statement& Store::Prepared(const char* sql) {
  SQLite::Statement& st = PreparedAllBound(sql);
  st.clearBindings();
  return st;
}

SQLite::Statement& Store::PreparedAllBound(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) {
    slot = std::make_unique<SQLite::Statement>(*db_, sql);
  } else {
    slot->reset();
  }
  return *slot;
}

Status Store::Begin() {
  return Guarded("begin", [&]() -> Status {
    // Prepared once, as COMMIT below: the broker begins and commits once per
    // loop pass, and sqlite3_exec would parse the text again every time.
    Prepared("BEGIN IMMEDIATE").exec();
    counters_.Clear();  // a new transaction has changed nothing yet
    last_seen_written_ = {};
    return Status::Ok();
  });
}

Status Store::Commit() {
  return Guarded("commit", [&]() -> Status {
    const auto start = std::chrono::steady_clock::now();
    try {
      // The counters are part of the pass: written in its transaction.
      WriteCounters();
      Prepared("COMMIT").exec();
    } catch (const SQLite::Exception& e) {
      if (metrics_) {
        metrics_->CommitFailed(e.what(), std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now().time_since_epoch())
                                             .count());
      }
      throw;
    }
    for (auto& [sql, st] : statements_) st->tryReset();
    if (metrics_) {
      const auto end = std::chrono::steady_clock::now();
      metrics_->Publish(events_, std::chrono::duration<double>(end - start).count(),
                        std::chrono::duration_cast<std::chrono::milliseconds>(end.time_since_epoch())
                            .count());
    }
    return Status::Ok();
  });
}

void Store::CheckpointIfDue() {
  if (!checkpoint_due_) return;
  checkpoint_due_ = false;
  // Passive: it copies what no reader still needs and never waits. What it
  // leaves is copied by a later one; an error leaves the WAL as it was.
  (void)sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
}

void Store::WriteCounters() {
  if (counters_.empty()) return;
  for (const StateCounters::Change& c : counters_.Changes()) {
    auto& q = Prepared(
        "INSERT INTO queue_counts (queue, fn, state, n) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (queue, fn, state) DO UPDATE SET n = n + ?4");
    SQLite::bind(q, c.queue, c.fn, ToText(c.state), c.delta);
    q.exec();
  }
  const auto by_state = counters_.ByState();
  for (size_t i = 0; i < kTaskStates.size(); ++i) {
    if (by_state[i] == 0) continue;
    auto& q = Prepared("UPDATE task_state_counts SET n = n + ? WHERE state = ?");
    SQLite::bind(q, by_state[i], ToText(kTaskStates[i]));
    q.exec();
  }
  // Written into the transaction: a COMMIT that fails and is tried again
  // must not add them twice (a rollback takes them out with the rest).
  counters_.Clear();
}

void Store::ExecCountingMoves(SQLite::Statement& update, TaskState from, TaskState to) {
  while (update.executeStep()) {
    counters_.Move(update.getColumn(0).getText(), store_internal::ColumnText(update, 1), from, to);
  }
}

void Store::Rollback() {
  events_ = PassEvents();  // nothing of the pass happened
  counters_.Clear();       // nor any change of a task's state
  last_seen_written_ = {};
  // A statement that failed keeps its error until reset, and one left on a
  // row keeps a read transaction (and SQLite's pager error state) alive:
  // reset them all so that the next pass starts clean.
  for (auto& [sql, st] : statements_) st->tryReset();
  try {
    if (!db_->getHandle() || sqlite3_get_autocommit(db_->getHandle()) != 0) return;
    db_->exec("ROLLBACK");
  } catch (const SQLite::Exception&) {
    // Nothing left to undo.
  }
  // A pause or resume of the pass was undone: the set follows the file. If
  // even this read fails, the next rollback tries again.
  (void)LoadPausedQueues();
}

}  // namespace leaseq
