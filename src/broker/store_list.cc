// Store: `leaseq-ctl list`, bounded by its limit and read from the
// (state, queue, updated_at) indexes: never a scan of tasks.
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
  "SELECT key, state, queue, fn, attempts_count, created_at, updated_at, error FROM tasks "
// The partial indexes serve only queries that name their IN list.
constexpr const char* kFinished =
    LEASEQ_LIST_COLUMNS "INDEXED BY tasks_finished "
    "WHERE state IN ('done', 'failed', 'cancelled') AND state = ?1 "
    "ORDER BY queue, updated_at, id LIMIT ?2";
constexpr const char* kFinishedInQueue =
    LEASEQ_LIST_COLUMNS "INDEXED BY tasks_finished "
    "WHERE state IN ('done', 'failed', 'cancelled') AND state = ?1 AND queue = ?3 "
    "ORDER BY updated_at, id LIMIT ?2";
constexpr const char* kUnfinished =
    LEASEQ_LIST_COLUMNS "INDEXED BY tasks_unfinished "
    "WHERE state IN ('waiting', 'queued', 'running') AND state = ?1 "
    "ORDER BY queue, updated_at, id LIMIT ?2";
constexpr const char* kUnfinishedInQueue =
    LEASEQ_LIST_COLUMNS "INDEXED BY tasks_unfinished "
    "WHERE state IN ('waiting', 'queued', 'running') AND state = ?1 AND queue = ?3 "
    "ORDER BY updated_at, id LIMIT ?2";
#undef LEASEQ_LIST_COLUMNS

// Without --state: what needs a look first, the bulk of done tasks last.
constexpr std::array<const char*, 6> kListOrder = {"failed", "cancelled", "running",
                                                   "queued", "waiting",   "done"};

}  // namespace

Status Store::List(const ListFilter& f, std::vector<TaskRow>* out) {
  return Guarded("list", [&]() -> Status {
    out->clear();
    if (!f.state.empty() && !IsTaskState(f.state)) {
      return Status::Invalid("unknown state '" + f.state +
                             "' (waiting, queued, running, done, failed or cancelled)");
    }
    for (const char* state : kListOrder) {
      const int64_t left = f.limit - static_cast<int64_t>(out->size());
      if (left <= 0) break;
      if (!f.state.empty() && f.state != state) continue;
      const bool finished = IsFinishedState(state);
      const char* sql = f.queue.empty() ? (finished ? kFinished : kUnfinished)
                                        : (finished ? kFinishedInQueue : kUnfinishedInQueue);
      auto& q = Prepared(sql);
      q.bind(1, state);
      q.bind(2, left);
      if (!f.queue.empty()) q.bind(3, f.queue);
      while (q.executeStep()) {
        TaskRow r;
        r.key = q.getColumn(0).getString();
        r.state = q.getColumn(1).getString();
        r.queue = q.getColumn(2).getString();
        r.fn = ColumnText(q, 3);
        r.attempts = q.getColumn(4).getInt64();
        r.created_at = q.getColumn(5).getInt64();
        r.updated_at = q.getColumn(6).getInt64();
        r.error = FirstLine(ColumnText(q, 7));
        out->push_back(std::move(r));
      }
    }
    return Status::Ok();
  });
}

}  // namespace leaseq
