// DefaultTimeouts: the broker's time limits for tasks that have none of
// their own (leaseq-broker --default-timeout), per queue or for every queue:
//   --default-timeout 30m           every queue without an entry of its own
//   --default-timeout gpu=2h        the queue "gpu" (repeatable, one per queue)
// A task's own "timeout" always wins; no default at all means no limit.
// The broker resolves the limit when it leases a task and sends it in the
// `task` message, so workers need no configuration. Value type; pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace leaseq {

struct DefaultTimeouts {
  int64_t all_queues_ms = 0;                  // 0: none
  std::map<std::string, int64_t> per_queue;   // queue -> ms

  // Adds one flag value ("30m" or "QUEUE=30m"). Refuses a bad duration, a
  // zero one, an empty queue name, and a second value for the same target.
  Status Add(const std::string& flag);

  // The limit an attempt gets, in ms; 0 for none.
  int64_t For(const std::string& queue, int64_t task_timeout_ms) const;
};

}  // namespace leaseq
