// Store: opening, schema, transactions, prepared statements, submissions.
#include "broker/store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "broker/store_internal.h"
#include "broker/store_schema.h"

namespace leaseq {

using store_internal::Guarded;

namespace {
constexpr int kBusyTimeoutMs = 5000;
// Cap the WAL after a checkpoint so that it does not keep a large file.
constexpr int64_t kJournalSizeLimit = 64LL << 20;
constexpr int64_t kCacheKiB = 16 << 10;

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

Status Store::Submit(const std::vector<TaskSpec>& tasks, int64_t now, int* bad_index) {
  size_t i = 0;
  int64_t count = 0;
  return Submit(
      [&](TaskSpec* t, bool* end) {
        *end = i == tasks.size();
        if (!*end) *t = tasks[i++];
        return Status::Ok();
      },
      now, bad_index, &count);
}

Status Store::Submit(const TaskSource& next, int64_t now, int* bad_index, int64_t* count) {
  *bad_index = -1;
  *count = 0;
  Status s = Guarded("submit", [&]() -> Status {
    db_->exec("SAVEPOINT submit");
    return Status::Ok();
  });
  if (!s.ok()) return s;
  StateCounters counted_before = counters_.Save();  // ROLLBACK TO puts them back
  TaskSpec t;
  while (s.ok()) {
    bool done = false;
    s = next(&t, &done);
    if (s.ok() && done) break;
    if (s.ok()) s = Guarded("submit", [&]() { return SubmitOne(t, now); });
    if (!s.ok()) *bad_index = static_cast<int>(*count);
    if (s.ok()) ++*count;
  }
  Status end = Guarded("submit", [&]() -> Status {
    if (!s.ok()) {
      counters_ = std::move(counted_before);
      db_->exec("ROLLBACK TO submit");
    }
    db_->exec("RELEASE submit");
    return Status::Ok();
  });
  return s.ok() ? end : s;
}

Status Store::CompareExisting(const TaskSpec& t, const std::string& fields, bool* exists) {
  auto& q = Prepared("SELECT spec, input FROM tasks WHERE key = ?");
  q.bind(1, t.key);
  *exists = q.executeStep();
  if (!*exists) return Status::Ok();
  const auto& in = q.getColumn(1);
  const bool same_input =
      std::string_view(static_cast<const char*>(in.getBlob()), in.getBytes()) == t.input;
  if (q.getColumn(0).getString() == fields && same_input) return Status::Ok();  // idempotent
  return Status::Conflict("task '" + t.key + "' already exists with different fields");
}

Status Store::SubmitOne(const TaskSpec& t, int64_t now) {
  if (t.key.empty()) return Status::Invalid("a task has no key");
  // The input is compared as bytes, not kept twice: spec holds the rest.
  TaskSpec without_input = t;
  without_input.input.clear();
  const std::string fields = CanonicalFields(without_input);
  // A task with dependencies is looked up first: an existing one is judged
  // before its `after` keys are. One without is inserted at once (nearly
  // always a new key: the client generates most of them) and looked up only
  // when its key turns out to be taken.
  if (!t.after.empty()) {
    bool exists = false;
    Status s = CompareExisting(t, fields, &exists);
    if (!s.ok() || exists) return s;
  }
  // Resolve dependencies: each must exist (submitted before, or earlier in
  // this submission, which also rules out cycles).
  std::vector<int64_t> dep_ids;
  std::set<int64_t> unfinished;
  std::string dead_dep;
  TaskState dead_state = TaskState::kFailed;
  int64_t dead_dep_id = 0;
  for (const auto& after : t.after) {
    auto& q = Prepared("SELECT id, state FROM tasks WHERE key = ?");
    q.bind(1, after);
    if (!q.executeStep()) return Status::NotFound("unknown 'after' key '" + after + "'");
    int64_t id = q.getColumn(0).getInt64();
    const std::optional<TaskState> state = TaskStateFromText(q.getColumn(1).getText());
    dep_ids.push_back(id);
    if (state != TaskState::kDone) unfinished.insert(id);
    if (state && IsFailedOrCancelled(*state) && dead_dep.empty()) {
      dead_dep = after;
      dead_state = *state;
      dead_dep_id = id;
    }
  }
  TaskState state = unfinished.empty() ? TaskState::kQueued : TaskState::kWaiting;
  std::string error;
  if (!dead_dep.empty()) {
    state = TaskState::kFailed;
    error = "dependency '" + dead_dep + "' " +
            (dead_state == TaskState::kFailed ? "failed" : "was cancelled");
  }
  // A delay counts from now, on the broker's clock (the client's may be
  // off); the absolute time is stored, the spec keeps what was asked.
  int64_t not_before = t.not_before_ms;
  if (t.delay_ms > 0) not_before = now + t.delay_ms;
  // Not due yet: out of the dispatch index until WakeDue (tasks_timed).
  const int64_t ready_at = not_before > now ? not_before : 0;
  // Every parameter is bound below; the texts are not copied (they outlive
  // the exec): this runs once per task of a submission.
  auto& ins = PreparedAllBound(
      "INSERT INTO tasks (key, state, cmd, fn, input, queue, priority, retries, "
      "unfinished_deps, dep_count, error, failed_dep, spec, created_at, updated_at, "
      "timeout_ms, not_before, ready_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (key) DO NOTHING");
  const std::string cmd_json = t.fn.empty() ? nlohmann::json(t.cmd).dump() : std::string();
  ins.bindNoCopy(1, t.key);
  ins.bindNoCopy(2, ToText(state));
  if (t.fn.empty()) {
    ins.bindNoCopy(3, cmd_json);
    ins.bind(4);
  } else {
    ins.bind(3);
    ins.bindNoCopy(4, t.fn);
  }
  ins.bindNoCopy(5, t.input.data(), static_cast<int>(t.input.size()));
  ins.bindNoCopy(6, t.queue);
  ins.bind(7, t.priority);
  ins.bind(8, t.retries);
  ins.bind(9, static_cast<int64_t>(unfinished.size()));
  ins.bind(10, static_cast<int64_t>(dep_ids.size()));
  if (error.empty()) {
    ins.bind(11);
    ins.bind(12);
  } else {
    ins.bind(11, error);
    ins.bind(12, dead_dep_id);
  }
  ins.bindNoCopy(13, fields);
  ins.bind(14, now);
  ins.bind(15, now);
  if (t.timeout_ms > 0) {
    ins.bind(16, t.timeout_ms);
  } else {
    ins.bind(16);
  }
  if (not_before > 0) {
    ins.bind(17, not_before);
  } else {
    ins.bind(17);
  }
  ins.bind(18, ready_at);
  if (ins.exec() == 0) {  // the key is taken (only without dependencies: looked up above)
    bool exists = false;
    Status s = CompareExisting(t, fields, &exists);
    if (s.ok() && !exists) s = Status::IoError("task '" + t.key + "' was neither stored nor found");
    return s;
  }
  counters_.Insert(t.queue, t.fn, state);
  const int64_t task_id = db_->getLastInsertRowid();
  for (size_t pos = 0; pos < dep_ids.size(); ++pos) {
    auto& dep = Prepared("INSERT INTO task_deps (task_id, pos, dep_id) VALUES (?, ?, ?)");
    SQLite::bind(dep, task_id, static_cast<int64_t>(pos), dep_ids[pos]);
    dep.exec();
  }
  for (int64_t dep_id : std::set<int64_t>(dep_ids.begin(), dep_ids.end())) {
    auto& d = Prepared("UPDATE tasks SET dependents = dependents + 1 WHERE id = ?");
    d.bind(1, dep_id);
    d.exec();
  }
  return Status::Ok();
}

}  // namespace leaseq
