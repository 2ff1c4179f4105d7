// Store: the transitions that end a task, and what they release or fail
// downstream. Dependencies are followed through task_deps_by_dep, and the
// unfinished_deps counter makes release O(dependents): no scan of tasks.
#include <SQLiteCpp/SQLiteCpp.h>

#include <deque>
#include <optional>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::ColumnText;

void Store::EndAttempt(int64_t attempt_id, AttemptOutcome outcome, int64_t now, int exit_code,
                       const std::string& error) {
  auto& q = Prepared(
      "UPDATE attempts SET outcome = ?, ended_at = ?, lease_expires_at = NULL, "
      "exit_code = ?, error = ? WHERE id = ?");
  SQLite::bind(q, ToText(outcome), now);
  if (exit_code == INT32_MIN) {
    q.bind(3);
  } else {
    q.bind(3, exit_code);
  }
  if (error.empty()) {
    q.bind(4);
  } else {
    q.bind(4, error);
  }
  q.bind(5, attempt_id);
  q.exec();
  if (PassEvents* e = events()) ++e->attempts[ToText(outcome)];
}

void Store::FinishTaskDone(int64_t task_id, int64_t now) {
  // Every dependent has one dependency fewer (whatever its state: a dependent
  // failed by another dependency may be retried later, and must count right);
  // the waiting ones at zero are ready.
  auto& dec = Prepared(
      "UPDATE tasks SET unfinished_deps = unfinished_deps - 1, updated_at = ? "
      "WHERE id IN (SELECT task_id FROM task_deps WHERE dep_id = ?)");
  SQLite::bind(dec, now, task_id);
  dec.exec();
  auto& ready = Prepared(
      "UPDATE tasks SET state = ?3, updated_at = ?1, "
      "ready_at = CASE WHEN not_before > ?1 THEN not_before ELSE 0 END "
      "WHERE id IN (SELECT task_id FROM task_deps WHERE dep_id = ?2) "
      "AND state = ?4 AND unfinished_deps = 0 RETURNING queue, fn");
  SQLite::bind(ready, now, task_id, ToText(TaskState::kQueued), ToText(TaskState::kWaiting));
  ExecCountingMoves(ready, TaskState::kWaiting, TaskState::kQueued);
}

void Store::FinishTaskFailed(int64_t task_id, TaskState state, const std::string& error,
                             int64_t now) {
  // Callers come from several states (running, queued, waiting, failed):
  // the counters need the one it leaves.
  std::string queue, fn;
  std::optional<TaskState> old;
  {
    auto& s = Prepared("SELECT queue, fn, state FROM tasks WHERE id = ?");
    s.bind(1, task_id);
    if (s.executeStep()) {
      queue = s.getColumn(0).getString();
      fn = ColumnText(s, 1);
      old = TaskStateFromText(s.getColumn(2).getText());
    }
  }
  auto& q = Prepared(
      "UPDATE tasks SET state = ?, error = ?, updated_at = ?, ready_at = 0, failed_dep = NULL "
      "WHERE id = ?");
  SQLite::bind(q, ToText(state), error, now, task_id);
  if (q.exec() > 0 && old) counters_.Move(queue, fn, *old, state);
  if (PassEvents* e = events()) ++(state == TaskState::kCancelled ? e->cancelled : e->failed);
  FailDependents(task_id, now);
}

void Store::FailDependents(int64_t task_id, int64_t now) {
  // Breadth first over the dependents that have not ended; each records the
  // dependency that failed it (failed_dep) so that retry can undo exactly this.
  std::deque<int64_t> work{task_id};
  while (!work.empty()) {
    const int64_t dep = work.front();
    work.pop_front();
    std::string dep_key;
    std::optional<TaskState> dep_state;
    {
      auto& k = Prepared("SELECT key, state FROM tasks WHERE id = ?");
      k.bind(1, dep);
      if (!k.executeStep()) continue;
      dep_key = k.getColumn(0).getString();
      dep_state = TaskStateFromText(k.getColumn(1).getText());
    }
    const std::string error = "dependency '" + dep_key + "' " +
                              (dep_state == TaskState::kCancelled ? "was cancelled" : "failed");
    struct Hit {
      int64_t id;
      TaskState state;
      std::string queue, fn;
    };
    std::vector<Hit> hit;
    {
      auto& d = Prepared(
          "SELECT t.id, t.state, t.queue, t.fn FROM task_deps d JOIN tasks t ON t.id = d.task_id "
          "WHERE d.dep_id = ? AND t.state IN ('waiting', 'queued')");
      d.bind(1, dep);
      while (d.executeStep()) {
        const std::optional<TaskState> s = TaskStateFromText(d.getColumn(1).getText());
        if (!s) continue;
        hit.push_back({d.getColumn(0).getInt64(), *s, d.getColumn(2).getString(), ColumnText(d, 3)});
      }
    }
    for (const Hit& h : hit) {
      // The state read above, in the condition: the counters move from it.
      // (A task listed twice, after the same dependency twice, changes once.)
      auto& u = Prepared(
          "UPDATE tasks SET state = ?5, error = ?1, failed_dep = ?2, updated_at = ?3 "
          "WHERE id = ?4 AND state = ?6");
      SQLite::bind(u, error, dep, now, h.id, ToText(TaskState::kFailed), ToText(h.state));
      if (u.exec() > 0) {
        counters_.Move(h.queue, h.fn, h.state, TaskState::kFailed);
        work.push_back(h.id);
        if (PassEvents* e = events()) ++e->failed;
      }
    }
  }
}

void Store::RequeueDependentsOf(int64_t task_id, int64_t now) {
  // Undo FailDependents for a task that goes back in the queue: the tasks
  // it failed wait for it again (it is not done, so their counters hold).
  std::deque<int64_t> work{task_id};
  while (!work.empty()) {
    const int64_t dep = work.front();
    work.pop_front();
    struct Hit {
      int64_t id;
      std::string queue, fn;
    };
    std::vector<Hit> hit;
    {
      auto& d = Prepared(
          "SELECT t.id, t.queue, t.fn FROM task_deps d JOIN tasks t ON t.id = d.task_id "
          "WHERE d.dep_id = ? AND t.state = 'failed' AND t.failed_dep = ?");
      SQLite::bind(d, dep, dep);
      while (d.executeStep()) {
        hit.push_back({d.getColumn(0).getInt64(), d.getColumn(1).getString(), ColumnText(d, 2)});
      }
    }
    for (const Hit& h : hit) {
      const int64_t id = h.id;
      // Another dependency may have failed meanwhile: then the task stays
      // failed, now naming that one.
      int64_t other = 0;
      std::string other_key;
      std::optional<TaskState> other_state;
      {
        auto& f = Prepared(
            "SELECT t.id, t.key, t.state FROM task_deps d JOIN tasks t ON t.id = d.dep_id "
            "WHERE d.task_id = ? AND t.state IN ('failed', 'cancelled') LIMIT 1");
        f.bind(1, id);
        if (f.executeStep()) {
          other = f.getColumn(0).getInt64();
          other_key = f.getColumn(1).getString();
          other_state = TaskStateFromText(f.getColumn(2).getText());
        }
      }
      if (other != 0) {
        auto& u = Prepared("UPDATE tasks SET error = ?, failed_dep = ?, updated_at = ? WHERE id = ?");
        u.bind(1, "dependency '" + other_key + "' " +
                      (other_state == TaskState::kCancelled ? "was cancelled" : "failed"));
        u.bind(2, other);
        u.bind(3, now);
        u.bind(4, id);
        u.exec();
        continue;
      }
      auto& u = Prepared(
          "UPDATE tasks SET state = ?3, error = NULL, failed_dep = NULL, "
          "suspicious = 0, errors = 0, updated_at = ?1 WHERE id = ?2 AND state = ?4");
      SQLite::bind(u, now, id, ToText(TaskState::kWaiting), ToText(TaskState::kFailed));
      if (u.exec() > 0) counters_.Move(h.queue, h.fn, TaskState::kFailed, TaskState::kWaiting);
      work.push_back(id);
    }
  }
}

std::string Store::AssembleStdin(int64_t task_id, const std::string& input) {
  std::string in = input;
  auto& q = Prepared(
      "SELECT t.result FROM task_deps d JOIN tasks t ON t.id = d.dep_id "
      "WHERE d.task_id = ? ORDER BY d.pos");
  q.bind(1, task_id);
  while (q.executeStep()) {
    const auto& c = q.getColumn(0);
    if (!c.isNull()) in.append(static_cast<const char*>(c.getBlob()), c.getBytes());
  }
  return in;
}

}  // namespace leaseq
