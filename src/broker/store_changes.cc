// Store: the two transitions users request, cancel and retry, by key; the
// bulk forms (store_bulk.cc) use the same CancelTask / RetryTask.
#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::Guarded;

namespace {
// Every key must name a task before anything changes: a request with an
// unknown key is refused whole.
Status RequireKeys(SQLite::Statement& q, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    q.reset();
    q.clearBindings();
    q.bind(1, key);
    if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
  }
  return Status::Ok();
}
}  // namespace

Status Store::Cancel(const std::vector<std::string>& keys, int64_t now,
                     std::vector<std::string>* changed, std::vector<LeasedAttempt>* aborts) {
  return Guarded("cancel", [&]() -> Status {
    Status known = RequireKeys(Prepared("SELECT 1 FROM tasks WHERE key = ?"), keys);
    if (!known.ok()) return known;
    for (const auto& key : keys) {
      int64_t id = 0;
      std::optional<TaskState> state;
      {
        auto& q = Prepared("SELECT id, state FROM tasks WHERE key = ?");
        q.bind(1, key);
        if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
        id = q.getColumn(0).getInt64();
        state = TaskStateFromText(q.getColumn(1).getText());
      }
      if (!state || *state == TaskState::kDone || *state == TaskState::kCancelled) continue;
      CancelTask(id, *state, now, aborts);
      changed->push_back(key);
    }
    return Status::Ok();
  });
}

void Store::CancelTask(int64_t id, TaskState state, int64_t now,
                       std::vector<LeasedAttempt>* aborts) {
  if (state == TaskState::kRunning) {
    auto& a = Prepared("SELECT id, worker FROM attempts WHERE task_id = ? AND outcome = 'running'");
    a.bind(1, id);
    std::vector<LeasedAttempt> running;
    while (a.executeStep()) running.push_back({a.getColumn(0).getInt64(), a.getColumn(1).getString()});
    for (const auto& r : running) {
      EndAttempt(r.attempt_id, AttemptOutcome::kError, now, INT32_MIN, "cancelled");
      aborts->push_back(r);
    }
  }
  FinishTaskFailed(id, TaskState::kCancelled, "cancelled", now);
}

Status Store::Retry(const std::vector<std::string>& keys, int64_t now,
                    std::vector<std::string>* changed) {
  return Guarded("retry", [&]() -> Status {
    Status known = RequireKeys(Prepared("SELECT 1 FROM tasks WHERE key = ?"), keys);
    if (!known.ok()) return known;
    for (const auto& key : keys) {
      auto& q = Prepared("SELECT id FROM tasks WHERE key = ?");
      q.bind(1, key);
      if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
      const int64_t id = q.getColumn(0).getInt64();
      if (RetryTask(id, now)) changed->push_back(key);
    }
    return Status::Ok();
  });
}

bool Store::RetryTask(int64_t id, int64_t now) {
  std::optional<TaskState> state;
  int64_t failed_dep = 0;
  {
    auto& q = Prepared("SELECT state, failed_dep FROM tasks WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return false;
    state = TaskStateFromText(q.getColumn(0).getText());
    failed_dep = q.getColumn(1).isNull() ? 0 : q.getColumn(1).getInt64();
  }
  if (!state || !IsFailedOrCancelled(*state)) return false;
  // A task failed by its dependency is retried by retrying the root cause
  // (the first task up the chain that failed by itself).
  while (failed_dep != 0) {
    auto& up = Prepared("SELECT id, state, failed_dep FROM tasks WHERE id = ?");
    up.bind(1, failed_dep);
    if (!up.executeStep()) break;
    const std::optional<TaskState> up_state = TaskStateFromText(up.getColumn(1).getText());
    if (!up_state || !IsFailedOrCancelled(*up_state)) break;
    id = up.getColumn(0).getInt64();
    state = up_state;
    failed_dep = up.getColumn(2).isNull() ? 0 : up.getColumn(2).getInt64();
  }
  auto& u = Prepared(
      "UPDATE tasks SET state = CASE WHEN unfinished_deps > 0 THEN 'waiting' ELSE 'queued' END, "
      "suspicious = 0, deaths = 0, errors = 0, error = NULL, failed_dep = NULL, "
      "ready_at = CASE WHEN not_before > ?1 THEN not_before ELSE 0 END, "
      "updated_at = ?1 WHERE id = ?2 AND state = ?3 RETURNING state, queue, fn");
  SQLite::bind(u, now, id, ToText(*state));
  bool changed = false;
  while (u.executeStep()) {
    const std::optional<TaskState> to = TaskStateFromText(u.getColumn(0).getText());
    if (to) counters_.Move(u.getColumn(1).getText(), store_internal::ColumnText(u, 2), *state, *to);
    changed = true;
  }
  if (!changed) return false;
  if (PassEvents* e = events()) ++e->retried_manual;
  RequeueDependentsOf(id, now);
  return true;
}

}  // namespace leaseq
