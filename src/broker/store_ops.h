// Value types of the operators' requests on the Store (store.h): listing
// tasks, changing or purging them in bulk, per-queue status, backups. Plain
// data; thread-compatible.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>

namespace leaseq {

// The six task states; the finished ones (done, failed, cancelled) are
// left only by retry, and only they can be purged.
bool IsTaskState(std::string_view state);
bool IsFinishedState(std::string_view state);

// One task as `leaseq-ctl list` shows it.
struct TaskRow {
  std::string key;
  std::string state;
  std::string queue;
  std::string fn;          // empty for a command
  int64_t attempts = 0;    // attempts so far (LEASEQ_ATTEMPT of the last)
  int64_t created_at = 0;  // wall ms
  int64_t updated_at = 0;  // wall ms: when it entered its state (or last changed)
  std::string error;       // first line only
};

struct ListFilter {
  std::string state;  // empty: every state (failed first, done last)
  std::string queue;  // empty: every queue
  int64_t limit = 100;
};

// Where a scan of the finished tasks of one state (done, failed or
// cancelled: tasks_finished) stopped. The scan goes queue by
// queue in name order (only the queues that have tasks in that state, from
// queue_counts), and within a queue from the most recent change down, so it
// is a range of an index, never a scan of the table. Rows at or above
// `bound` (updated_at) are never visited: the time the operation began, or
// its --older-than cutoff. Sent to the client and back between batches.
struct ScanCursor {
  int64_t bound = std::numeric_limits<int64_t>::max();
  bool started = false;  // false: at the first queue
  std::string queue;     // the queue being scanned
  int64_t updated_at = std::numeric_limits<int64_t>::max();  // next rows: below
  int64_t id = 0;                                            // (updated_at, id)
  int64_t swept = 0;  // purge: tasks deleted in this sweep of every queue
};

// One queue in `status`.
struct QueueStatus {
  std::map<std::string, int64_t> counts;        // state -> tasks
  std::map<std::string, int64_t> queued_by_fn;  // fn ('' = command) -> queued tasks
  // created_at of its oldest queued task (the first submitted); 0: none.
  int64_t oldest_queued_created_at = 0;
  bool paused = false;
};

// Where an online backup stands.
struct BackupProgress {
  int64_t pages_total = 0;
  int64_t pages_done = 0;
  bool done = false;
};

}  // namespace leaseq
