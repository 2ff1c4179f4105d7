// Store: queues as operators see them: paused or not, and their counts.
#include <SQLiteCpp/SQLiteCpp.h>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::Guarded;

Status Store::LoadPausedQueues() {
  return Guarded("paused queues", [&]() -> Status {
    // Replaced only once read whole: a read that fails half way (a full
    // disk) must not leave paused queues out of the set.
    std::set<std::string> paused;
    auto& q = Prepared("SELECT queue FROM paused_queues");
    while (q.executeStep()) paused.insert(q.getColumn(0).getString());
    paused_ = std::move(paused);
    return Status::Ok();
  });
}

Status Store::Pause(const std::string& queue, int64_t now, bool* changed) {
  return Guarded("pause", [&]() -> Status {
    auto& q = Prepared("INSERT INTO paused_queues (queue, paused_at) VALUES (?, ?) "
                       "ON CONFLICT (queue) DO NOTHING");
    SQLite::bind(q, queue, now);
    *changed = q.exec() > 0;
    // In memory at once: this pass's dispatch already skips it. A rollback
    // of the pass reloads the set from the file.
    paused_.insert(queue);
    return Status::Ok();
  });
}

Status Store::Resume(const std::string& queue, bool* changed) {
  return Guarded("resume", [&]() -> Status {
    auto& q = Prepared("DELETE FROM paused_queues WHERE queue = ?");
    q.bind(1, queue);
    *changed = q.exec() > 0;
    paused_.erase(queue);
    return Status::Ok();
  });
}

int64_t Store::OldestQueued(const std::string& queue) {
  // The oldest task that could run now (a delayed one is not waiting yet).
  // The first task of each priority in tasks_dispatch (queue, priority DESC,
  // id) is the oldest of that priority: one seek per distinct priority
  // (a handful), not a count of the queue.
  constexpr int kMaxPriorities = 64;
  int64_t best_id = 0, best_created = 0;
  bool first = true;
  int64_t below = 0;
  for (int i = 0; i < kMaxPriorities; ++i) {
    auto& q = Prepared(first ? "SELECT priority, id, created_at FROM tasks INDEXED BY tasks_dispatch "
                               "WHERE state = 'queued' AND ready_at = 0 AND queue = ?1 "
                               "ORDER BY priority DESC, id LIMIT 1"
                             : "SELECT priority, id, created_at FROM tasks INDEXED BY tasks_dispatch "
                               "WHERE state = 'queued' AND ready_at = 0 AND queue = ?1 AND priority < ?2 "
                               "ORDER BY priority DESC, id LIMIT 1");
    q.bind(1, queue);
    if (!first) q.bind(2, below);
    if (!q.executeStep()) break;
    first = false;
    below = q.getColumn(0).getInt64();
    if (best_id == 0 || q.getColumn(1).getInt64() < best_id) {
      best_id = q.getColumn(1).getInt64();
      best_created = q.getColumn(2).getInt64();
    }
  }
  return best_created;
}

Status Store::QueueStatuses(std::map<std::string, QueueStatus>* out, bool with_oldest) {
  return Guarded("queue status", [&]() -> Status {
    out->clear();
    WriteCounters();  // this pass's changes first
    {
      auto& q = Prepared("SELECT queue, fn, state, n FROM queue_counts WHERE n > 0");
      while (q.executeStep()) {
        QueueStatus& s = (*out)[q.getColumn(0).getString()];
        const std::string state = q.getColumn(2).getString();
        const int64_t n = q.getColumn(3).getInt64();
        s.counts[state] += n;
        if (TaskStateFromText(state) == TaskState::kQueued) {
          s.queued_by_fn[q.getColumn(1).getString()] += n;
        }
      }
    }
    for (const auto& queue : paused_) (*out)[queue].paused = true;
    for (auto& [queue, s] : *out) {
      if (!with_oldest || s.counts[ToText(TaskState::kQueued)] == 0) continue;
      s.oldest_queued_created_at = OldestQueued(queue);
    }
    return Status::Ok();
  });
}

}  // namespace leaseq
