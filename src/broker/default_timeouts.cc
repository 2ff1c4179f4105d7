#include "broker/default_timeouts.h"

#include "common/duration.h"

namespace leaseq {

Status DefaultTimeouts::Add(const std::string& flag) {
  // Durations never contain '=', so the last one splits queue from time
  // (a queue name may contain '=' itself).
  const size_t eq = flag.rfind('=');
  const std::string queue = eq == std::string::npos ? "" : flag.substr(0, eq);
  const std::string text = eq == std::string::npos ? flag : flag.substr(eq + 1);
  if (eq != std::string::npos && queue.empty()) {
    return Status::Invalid("--default-timeout " + flag + ": the queue name before '=' is empty");
  }
  int64_t ms = 0;
  Status s = ParseDuration(text, &ms);
  if (!s.ok()) return Status::Invalid("--default-timeout " + flag + ": " + s.message());
  if (ms == 0) return Status::Invalid("--default-timeout " + flag + ": must be longer than 0");
  if (queue.empty()) {
    if (all_queues_ms != 0) {
      return Status::Invalid("--default-timeout given twice for all queues (" +
                             FormatDuration(all_queues_ms) + " and " + text + ")");
    }
    all_queues_ms = ms;
    return Status::Ok();
  }
  if (!per_queue.emplace(queue, ms).second) {
    return Status::Invalid("--default-timeout given twice for queue '" + queue + "'");
  }
  return Status::Ok();
}

int64_t DefaultTimeouts::For(const std::string& queue, int64_t task_timeout_ms) const {
  if (task_timeout_ms > 0) return task_timeout_ms;
  auto it = per_queue.find(queue);
  return it != per_queue.end() ? it->second : all_queues_ms;
}

}  // namespace leaseq
