// Store: `leaseq-ctl list`, bounded by its limit and read from indexes,
// never a scan of tasks: tasks_finished, tasks_waiting, tasks_dispatch
// (queued, in the order they go out) and attempts_running (running).
#include <SQLiteCpp/SQLiteCpp.h>

#include <array>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::ColumnText;
using store_internal::FirstLine;
using store_internal::Guarded;

namespace {

#define LEASEQ_LIST_COLUMNS \
  "SELECT t.key, t.state, t.queue, t.fn, t.attempts_count, t.created_at, t.updated_at, t.error "
// Finished: tasks_finished, which only queries naming its condition use. A
// queue, when given, is part of the range (not a filter over it).
constexpr const char* kFinished =
    LEASEQ_LIST_COLUMNS "FROM tasks t INDEXED BY tasks_finished "
    "WHERE " LEASEQ_FINISHED " AND t.state = ?1 "
    "ORDER BY t.queue, t.updated_at, t.id LIMIT ?2";
constexpr const char* kFinishedInQueue =
    LEASEQ_LIST_COLUMNS "FROM tasks t INDEXED BY tasks_finished "
    "WHERE " LEASEQ_FINISHED " AND t.state = ?1 AND t.queue = ?3 "
    "ORDER BY t.updated_at, t.id LIMIT ?2";
constexpr const char* kWaiting =
    LEASEQ_LIST_COLUMNS "FROM tasks t INDEXED BY tasks_waiting WHERE t.state = 'waiting' "
    "ORDER BY t.queue, t.updated_at, t.id LIMIT ?2";
constexpr const char* kWaitingInQueue =
    LEASEQ_LIST_COLUMNS "FROM tasks t INDEXED BY tasks_waiting WHERE t.state = 'waiting' "
    "AND t.queue = ?3 ORDER BY t.updated_at, t.id LIMIT ?2";
// Queued: one queue at a time, in the order they go out (tasks_dispatch,
// the due ones), then those not due yet, delayed or backing off, by the time
// they become due (tasks_timed).
constexpr const char* kQueued =
    LEASEQ_LIST_COLUMNS "FROM tasks t INDEXED BY tasks_dispatch WHERE t.state = 'queued' "
    "AND t.ready_at = 0 AND t.queue = ?3 ORDER BY t.priority DESC, t.id LIMIT ?2";
constexpr const char* kQueuedLater =
    LEASEQ_LIST_COLUMNS "FROM tasks t INDEXED BY tasks_timed WHERE t.state = 'queued' "
    "AND t.ready_at > 0 AND t.queue = ?3 ORDER BY t.ready_at, t.id LIMIT ?2";
constexpr const char* kQueuesWithQueued =
    "SELECT DISTINCT queue FROM queue_counts WHERE state = 'queued' AND n > 0 ORDER BY queue";
// Running: through the leases (attempts_running), at most the workers'
// credit, sorted in memory.
constexpr const char* kRunning =
    LEASEQ_LIST_COLUMNS "FROM attempts a INDEXED BY attempts_running "
    "JOIN tasks t ON t.id = a.task_id WHERE a.outcome = 'running' AND t.state = 'running' "
    "AND (?3 IS NULL OR t.queue = ?3) ORDER BY t.queue, t.updated_at, t.id LIMIT ?2";
#undef LEASEQ_LIST_COLUMNS

// Without --state: what needs a look first, the bulk of done tasks last.
constexpr std::array<TaskState, 6> kListOrder = {TaskState::kFailed,  TaskState::kCancelled,
                                                 TaskState::kRunning, TaskState::kQueued,
                                                 TaskState::kWaiting, TaskState::kDone};

TaskRow ReadRow(SQLite::Statement& q) {
  TaskRow r;
  r.key = q.getColumn(0).getString();
  r.state = q.getColumn(1).getString();
  r.queue = q.getColumn(2).getString();
  r.fn = ColumnText(q, 3);
  r.attempts = q.getColumn(4).getInt64();
  r.created_at = q.getColumn(5).getInt64();
  r.updated_at = q.getColumn(6).getInt64();
  r.error = FirstLine(ColumnText(q, 7));
  return r;
}

}  // namespace

Status Store::List(const ListFilter& f, std::vector<TaskRow>* out) {
  return Guarded("list", [&]() -> Status {
    out->clear();
    if (!f.state.empty() && !IsTaskState(f.state)) {
      return Status::Invalid("unknown state '" + f.state +
                             "' (waiting, queued, running, done, failed or cancelled)");
    }
    auto left = [&] { return f.limit - static_cast<int64_t>(out->size()); };
    auto read = [&](const char* sql, TaskState state, const std::string& queue) {
      auto& q = Prepared(sql);
      if (IsFinished(state)) q.bind(1, ToText(state));
      q.bind(2, left());
      if (sql == kRunning && queue.empty()) q.bind(3);  // NULL: every queue
      if (!queue.empty()) q.bind(3, queue);
      while (q.executeStep()) out->push_back(ReadRow(q));
    };
    for (const TaskState state : kListOrder) {
      if (left() <= 0) break;
      if (!f.state.empty() && f.state != ToText(state)) continue;
      const bool one = !f.queue.empty();
      if (IsFinished(state)) {
        read(one ? kFinishedInQueue : kFinished, state, f.queue);
      } else if (state == TaskState::kWaiting) {
        read(one ? kWaitingInQueue : kWaiting, state, f.queue);
      } else if (state == TaskState::kRunning) {
        read(kRunning, state, f.queue);
      } else if (!f.queue.empty()) {
        read(kQueued, state, f.queue);
        if (left() > 0) read(kQueuedLater, state, f.queue);
      } else {
        std::vector<std::string> queues;
        WriteCounters();  // queue_counts as this pass left it
        auto& q = Prepared(kQueuesWithQueued);
        while (q.executeStep()) queues.push_back(q.getColumn(0).getString());
        for (const auto& queue : queues) {
          if (left() <= 0) break;
          read(kQueued, state, queue);
          if (left() > 0) read(kQueuedLater, state, queue);
        }
      }
    }
    return Status::Ok();
  });
}

}  // namespace leaseq
