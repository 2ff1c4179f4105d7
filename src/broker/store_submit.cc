// Store: submissions. A submission is one savepoint: all of it or none.
//
// Tasks without dependencies go in kInsertRows at a time, by one
// multi-row INSERT. A statement's fixed cost (executing, halting and
// resetting it) is then paid once per batch instead of once per task:
// callgrind counted 25,300 instructions per submitted task one row at a
// time, and 14,200 per row in rows of 64 (docs/benchmarks.md). A task with
// `after` keys goes in alone, after the batch before it (it may depend on
// one of those tasks).
#include <SQLiteCpp/SQLiteCpp.h>

#include <set>
#include <string>
#include <vector>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::Guarded;
using store_internal::NewTask;

namespace store_internal {
// The values of a task's INSERT; the statement binds the texts without a
// copy, so a row outlives the statement's execution.
struct NewTask {
  TaskSpec spec;
  std::string fields;    // CanonicalFields of spec but its input (the spec column)
  std::string cmd_json;  // the cmd column; empty for a function
  TaskState state = TaskState::kQueued;
  int64_t unfinished_deps = 0, dep_count = 0;
  std::string error;  // set with failed_dep: a dependency failed or was cancelled
  int64_t failed_dep = 0;
  int64_t not_before = 0;  // absolute (a delay counts from the submission)
  int64_t ready_at = 0;    // not_before while it is in the future, else 0
};
}  // namespace store_internal

namespace {

constexpr size_t kInsertRows = store_internal::kRowsPerStatement;  // tasks per INSERT
constexpr int kColumns = 18;        // values per row, as BindNewTask binds them

#define LEASEQ_INSERT_TASKS                                                                   \
  "INSERT INTO tasks (key, state, cmd, fn, input, queue, priority, retries, "                 \
  "unfinished_deps, dep_count, error, failed_dep, spec, created_at, updated_at, timeout_ms, " \
  "not_before, ready_at) VALUES "
#define LEASEQ_TASK_ROW "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// One row. A key already stored is left as it is (the caller judges it).
constexpr const char* kInsertOne =
    LEASEQ_INSERT_TASKS LEASEQ_TASK_ROW " ON CONFLICT (key) DO NOTHING";

// Binds row's values at parameters first + 1 .. first + kColumns, the
// texts without a copy.
void BindNewTask(SQLite::Statement& st, int first, const NewTask& row, int64_t now) {
  const TaskSpec& t = row.spec;
  auto nullable = [&st](int i, int64_t v) {  // 0 is NULL
    if (v != 0) {
      st.bind(i, v);
    } else {
      st.bind(i);
    }
  };
  st.bindNoCopy(first + 1, t.key);
  st.bindNoCopy(first + 2, ToText(row.state));
  if (t.fn.empty()) {
    st.bindNoCopy(first + 3, row.cmd_json);
    st.bind(first + 4);
  } else {
    st.bind(first + 3);
    st.bindNoCopy(first + 4, t.fn);
  }
  st.bindNoCopy(first + 5, t.input.data(), static_cast<int>(t.input.size()));
  st.bindNoCopy(first + 6, t.queue);
  st.bind(first + 7, t.priority);
  st.bind(first + 8, t.retries);
  st.bind(first + 9, row.unfinished_deps);
  st.bind(first + 10, row.dep_count);
  if (row.error.empty()) {
    st.bind(first + 11);
    st.bind(first + 12);
  } else {
    st.bindNoCopy(first + 11, row.error);
    st.bind(first + 12, row.failed_dep);
  }
  st.bindNoCopy(first + 13, row.fields);
  st.bind(first + 14, now);
  st.bind(first + 15, now);
  nullable(first + 16, t.timeout_ms > 0 ? t.timeout_ms : 0);
  nullable(first + 17, row.not_before > 0 ? row.not_before : 0);
  st.bind(first + 18, row.ready_at);
}

}  // namespace

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
  // Grown as needed: a submission of one task builds one row, not 64.
  std::vector<NewTask> batch;
  size_t pending = 0;  // rows of batch read and not inserted yet
  int64_t index = 0;   // of the next task read
  // Inserts the pending rows; on error points *bad_index at the one at fault.
  auto flush = [&]() -> Status {
    size_t fault = 0;
    Status f = Guarded("submit", [&] { return InsertNewTasks(batch, pending, now, &fault); });
    if (f.ok()) {
      *count += static_cast<int64_t>(pending);
    } else {
      *bad_index = static_cast<int>(index - static_cast<int64_t>(pending - fault));
    }
    pending = 0;
    return f;
  };
  while (true) {
    if (pending == batch.size()) batch.emplace_back();
    NewTask& row = batch[pending];
    bool end = false;
    s = next(&row.spec, &end);
    if (s.ok() && end) break;
    if (s.ok() && row.spec.key.empty()) s = Status::Invalid("a task has no key");
    if (s.ok()) {
      s = Guarded("submit", [&] {
        PrepareNewTask(now, &row);
        return Status::Ok();
      });
    }
    if (s.ok() && row.spec.after.empty()) {
      ++index;
      if (++pending == kInsertRows) s = flush();
      if (!s.ok()) break;
      continue;
    }
    // A task at fault, or one that may depend on a task of the batch: the
    // batch goes in first (and a task at fault in it is the earlier one).
    if (Status f = flush(); !f.ok()) {
      s = f;
      break;
    }
    if (s.ok()) s = Guarded("submit", [&] { return SubmitWithDeps(&row, now); });
    if (!s.ok()) {
      *bad_index = static_cast<int>(index);
      break;
    }
    ++*count;
    ++index;
  }
  if (s.ok()) s = flush();
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

void Store::PrepareNewTask(int64_t now, NewTask* row) {
  TaskSpec& t = row->spec;
  // The input is compared as bytes, not kept twice: spec holds the rest.
  std::string input = std::move(t.input);
  t.input.clear();
  row->fields = CanonicalFields(t);
  t.input = std::move(input);
  row->cmd_json = t.fn.empty() ? nlohmann::json(t.cmd).dump() : std::string();
  row->state = TaskState::kQueued;
  row->unfinished_deps = row->dep_count = row->failed_dep = 0;
  row->error.clear();
  // A delay counts from now, on the broker's clock (the client's may be
  // off); the absolute time is stored, the spec keeps what was asked.
  row->not_before = t.delay_ms > 0 ? now + t.delay_ms : t.not_before_ms;
  // Not due yet: out of the dispatch index until WakeDue (tasks_timed).
  row->ready_at = row->not_before > now ? row->not_before : 0;
}

Status Store::InsertNewTasks(const std::vector<NewTask>& rows, size_t n, int64_t now,
                             size_t* fault) {
  *fault = 0;
  if (n == kInsertRows) {
    // Without ON CONFLICT: a key already stored aborts the statement,
    // which SQLite undoes whole, and the rows go one at a time.
    auto& ins = PreparedAllBound(
        store_internal::RepeatedSql(LEASEQ_INSERT_TASKS, LEASEQ_TASK_ROW, kInsertRows, ""));
    for (size_t i = 0; i < n; ++i) {
      BindNewTask(ins, static_cast<int>(i) * kColumns, rows[i], now);
    }
    bool stored = false;
    try {
      ins.exec();
      stored = true;
    } catch (const SQLite::Exception& e) {
      // A key that is taken (a resubmission, or a key twice in the batch):
      // the rows go one by one below, and each is judged.
      if (e.getExtendedErrorCode() != SQLITE_CONSTRAINT_UNIQUE) throw;
      ins.tryReset();  // else its next reset() throws this error again
    }
    if (stored) {
      for (size_t i = 0; i < n; ++i) {
        counters_.Insert(rows[i].spec.queue, rows[i].spec.fn, rows[i].state);
      }
      return Status::Ok();
    }
  }
  for (size_t i = 0; i < n; ++i) {
    *fault = i;
    bool inserted = false;
    Status s = InsertNewTask(rows[i], now, &inserted);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Store::InsertNewTask(const NewTask& r, int64_t now, bool* inserted) {
  auto& ins = PreparedAllBound(kInsertOne);
  BindNewTask(ins, 0, r, now);
  *inserted = ins.exec() != 0;
  if (*inserted) {
    counters_.Insert(r.spec.queue, r.spec.fn, r.state);
    return Status::Ok();
  }
  bool exists = false;
  Status s = CompareExisting(r.spec, r.fields, &exists);
  if (s.ok() && !exists) {
    s = Status::IoError("task '" + r.spec.key + "' was neither stored nor found");
  }
  return s;
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

Status Store::SubmitWithDeps(NewTask* row, int64_t now) {
  const TaskSpec& t = row->spec;
  // An existing task is judged before its `after` keys are.
  bool exists = false;
  Status s = CompareExisting(t, row->fields, &exists);
  if (!s.ok() || exists) return s;
  // Each dependency must exist (submitted before, or earlier in this
  // submission, which also rules out cycles).
  std::vector<int64_t> dep_ids;
  std::set<int64_t> unfinished;
  std::string dead_dep;
  TaskState dead_state = TaskState::kFailed;
  for (const auto& after : t.after) {
    auto& q = Prepared("SELECT id, state FROM tasks WHERE key = ?");
    q.bind(1, after);
    if (!q.executeStep()) return Status::NotFound("unknown 'after' key '" + after + "'");
    const int64_t id = q.getColumn(0).getInt64();
    const std::optional<TaskState> state = TaskStateFromText(q.getColumn(1).getText());
    dep_ids.push_back(id);
    if (state != TaskState::kDone) unfinished.insert(id);
    if (state && IsFailedOrCancelled(*state) && dead_dep.empty()) {
      dead_dep = after;
      dead_state = *state;
      row->failed_dep = id;
    }
  }
  row->state = unfinished.empty() ? TaskState::kQueued : TaskState::kWaiting;
  row->unfinished_deps = static_cast<int64_t>(unfinished.size());
  row->dep_count = static_cast<int64_t>(dep_ids.size());
  if (!dead_dep.empty()) {
    row->state = TaskState::kFailed;
    row->error = "dependency '" + dead_dep + "' " +
                 (dead_state == TaskState::kFailed ? "failed" : "was cancelled");
  }
  bool inserted = false;
  s = InsertNewTask(*row, now, &inserted);
  if (!s.ok() || !inserted) return s;
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
