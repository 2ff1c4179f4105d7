// Store: purging finished tasks (leaseq-ctl purge, leaseq-broker --retain),
// one bounded batch per call, and giving the freed pages back.
#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::Guarded;

Status Store::Purge(const std::string& state, const std::string& queue, int limit,
                    ScanCursor* cursor, int64_t* deleted, bool* more) {
  return Guarded("purge", [&]() -> Status {
    if (!IsFinishedState(state)) {
      return Status::Invalid("purge deletes finished tasks (done, failed or cancelled), not '" +
                             state + "' ones");
    }
    *deleted = 0;
    std::vector<int64_t> ids;
    bool end = false;
    // Newest first: a task is visited before the tasks it ran after, so a
    // chain of dependencies goes in one sweep (each deletion frees the next).
    Status s = ScanState(state, queue, limit, cursor, &ids, &end);
    if (!s.ok()) return s;
    for (int64_t id : ids) {
      if (DeleteTask(id)) ++*deleted;
    }
    cursor->swept += *deleted;
    *more = !end;
    if (end && cursor->swept > 0) {
      // A task this sweep passed may be free now (a dependency that ended
      // after its dependent, which was cancelled first): sweep again, until
      // a sweep deletes nothing. Each sweep deletes at least one task of a
      // set that does not grow (bound): this ends.
      cursor->started = false;
      cursor->swept = 0;
      *more = true;
    }
    return Status::Ok();
  });
}

bool Store::DeleteTask(int64_t id) {
  std::optional<TaskState> state;
  std::string queue, fn;
  {
    auto& q = Prepared("SELECT dependents, state, queue, fn FROM tasks WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return false;
    if (q.getColumn(0).getInt64() != 0) return false;  // a stored task runs after it
    state = TaskStateFromText(q.getColumn(1).getText());
    if (!state || !IsFinished(*state)) return false;
    queue = q.getColumn(2).getString();
    fn = store_internal::ColumnText(q, 3);
  }
  // Its dependencies have one dependent fewer (Submit counted each distinct
  // dependency once; IN counts each once too).
  auto& dec = Prepared(
      "UPDATE tasks SET dependents = dependents - 1 "
      "WHERE id IN (SELECT dep_id FROM task_deps WHERE task_id = ?)");
  dec.bind(1, id);
  dec.exec();
  auto& deps = Prepared("DELETE FROM task_deps WHERE task_id = ?");
  deps.bind(1, id);
  deps.exec();
  auto& attempts = Prepared("DELETE FROM attempts WHERE task_id = ?");
  attempts.bind(1, id);
  attempts.exec();
  auto& task = Prepared("DELETE FROM tasks WHERE id = ?");
  task.bind(1, id);
  if (task.exec() > 0) counters_.Remove(queue, fn, *state);
  return true;
}

Status Store::ReclaimFreePages(int pages, int64_t* reclaimed) {
  return Guarded("incremental vacuum", [&]() -> Status {
    const int64_t before = db_->execAndGet("PRAGMA freelist_count").getInt64();
    if (before > 0 && pages > 0) {
      db_->exec("PRAGMA incremental_vacuum(" + std::to_string(pages) + ")");
    }
    if (reclaimed) *reclaimed = before - db_->execAndGet("PRAGMA freelist_count").getInt64();
    return Status::Ok();
  });
}

}  // namespace leaseq
