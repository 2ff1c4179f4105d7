// Store: retry and cancel in bulk (by state, by queue), one bounded batch
// per call, so that the broker interleaves them with dispatch; and the scan
// of one state that they and purge share.
#include <SQLiteCpp/SQLiteCpp.h>

#include <array>
#include <optional>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::Guarded;

namespace {

// tasks_finished is used only by queries that name its condition.
constexpr const char* kScanFinished =
    "SELECT id, updated_at FROM tasks INDEXED BY tasks_finished "
    "WHERE " LEASEQ_FINISHED " AND state = ?1 AND queue = ?2 "
    "AND (updated_at, id) < (?3, ?4) ORDER BY updated_at DESC, id DESC LIMIT ?5";
constexpr const char* kFirstQueue =
    "SELECT queue FROM queue_counts WHERE state = ? AND n > 0 ORDER BY queue LIMIT 1";
constexpr const char* kNextQueue =
    "SELECT queue FROM queue_counts WHERE state = ? AND n > 0 AND queue > ? "
    "ORDER BY queue LIMIT 1";

// The unfinished tasks of a queue, each state through its own index. Cancel
// takes the waiting ones first: then they end cancelled themselves, not
// failed by a dependency cancelled before them.
// Queued tasks are in tasks_dispatch when due, in tasks_timed while delayed
// or backing off (that one has no queue column: it reads the timed tasks).
constexpr std::array<const char*, 4> kUnfinishedOfQueue = {
    "SELECT id FROM tasks INDEXED BY tasks_waiting WHERE state = 'waiting' AND queue = ?1 LIMIT ?2",
    "SELECT id FROM tasks INDEXED BY tasks_dispatch WHERE state = 'queued' AND ready_at = 0 "
    "AND queue = ?1 LIMIT ?2",
    "SELECT id FROM tasks INDEXED BY tasks_timed WHERE state = 'queued' AND ready_at > 0 "
    "AND queue = ?1 LIMIT ?2",
    "SELECT t.id FROM attempts a INDEXED BY attempts_running JOIN tasks t ON t.id = a.task_id "
    "WHERE a.outcome = 'running' AND t.state = 'running' AND t.queue = ?1 LIMIT ?2"};

}  // namespace

Status Store::ScanState(const std::string& state, const std::string& queue, int limit,
                        ScanCursor* c, std::vector<int64_t>* ids, bool* end) {
  ids->clear();
  *end = false;
  if (!IsFinishedState(state)) return Status::Invalid("only finished tasks are scanned by age");
  // The next queue with tasks in this state, or the one asked for.
  auto next_queue = [&](bool first, std::string* out) {
    if (!queue.empty()) {
      *out = queue;
      return first;
    }
    WriteCounters();  // queue_counts as this pass left it
    auto& q = Prepared(first ? kFirstQueue : kNextQueue);
    q.bind(1, state);
    if (!first) q.bind(2, c->queue);
    if (!q.executeStep()) return false;
    *out = q.getColumn(0).getString();
    return true;
  };
  auto start_queue = [&](bool first) {
    if (!next_queue(first, &c->queue)) return false;
    c->updated_at = c->bound;
    c->id = 0;
    return true;
  };
  if (!c->started) {
    c->started = true;
    if (!start_queue(true)) {
      *end = true;
      return Status::Ok();
    }
  }
  while (static_cast<int>(ids->size()) < limit) {
    const int64_t want = limit - static_cast<int64_t>(ids->size());
    auto& q = Prepared(kScanFinished);
    SQLite::bind(q, state, c->queue, c->updated_at, c->id, want);
    int64_t got = 0;
    while (q.executeStep()) {
      ids->push_back(q.getColumn(0).getInt64());
      c->updated_at = q.getColumn(1).getInt64();
      c->id = ids->back();
      ++got;
    }
    if (got == want) break;  // this queue may have more
    if (!start_queue(false)) {
      *end = true;
      break;
    }
  }
  return Status::Ok();
}

Status Store::RetryMatching(const std::string& state, const std::string& queue, int limit,
                           int64_t now, ScanCursor* cursor, int64_t* changed, bool* more) {
  return Guarded("retry", [&]() -> Status {
    if (const auto s = TaskStateFromText(state); !s || !IsFailedOrCancelled(*s)) {
      return Status::Invalid("retry takes tasks that are failed or cancelled, not '" + state + "'");
    }
    std::vector<int64_t> ids;
    bool end = false;
    Status s = ScanState(state, queue, limit, cursor, &ids, &end);
    if (!s.ok()) return s;
    *changed = 0;
    // A task retried here leaves the state; one that fails again meanwhile
    // is newer than cursor->bound, so a batch never takes it twice.
    for (int64_t id : ids) {
      if (RetryTask(id, now)) ++*changed;
    }
    *more = !end;
    return Status::Ok();
  });
}

Status Store::CancelQueue(const std::string& queue, int limit, int64_t now, int64_t* changed,
                          std::vector<LeasedAttempt>* aborts, bool* more) {
  return Guarded("cancel", [&]() -> Status {
    *changed = 0;
    int64_t seen = 0;
    for (const char* sql : kUnfinishedOfQueue) {
      if (seen >= limit) break;
      std::vector<int64_t> ids;
      {
        auto& q = Prepared(sql);
        SQLite::bind(q, queue, limit - seen);
        while (q.executeStep()) ids.push_back(q.getColumn(0).getInt64());
      }
      seen += static_cast<int64_t>(ids.size());
      for (int64_t id : ids) {
        // An earlier cancel of this batch may have failed it (a dependent).
        auto& st = Prepared("SELECT state FROM tasks WHERE id = ?");
        st.bind(1, id);
        if (!st.executeStep()) continue;
        const std::optional<TaskState> now_state = TaskStateFromText(st.getColumn(0).getText());
        if (!now_state || IsFinished(*now_state)) continue;
        CancelTask(id, *now_state, now, aborts);
        ++*changed;
      }
    }
    // Cancelled tasks leave the indexes: the next batch starts from the top
    // again, and finds nothing once the queue holds no unfinished task.
    *more = seen >= limit;
    return Status::Ok();
  });
}

}  // namespace leaseq
