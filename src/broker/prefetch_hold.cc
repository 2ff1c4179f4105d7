#include "broker/prefetch_hold.h"

namespace leaseq {

void PrefetchHold::HandedBack(const std::vector<std::string>& queues, int64_t now) {
  for (const std::string& q : queues) until_[q] = now + hold_ms_;
}

bool PrefetchHold::Held(const std::vector<std::string>& queues, int64_t now) {
  if (until_.empty()) return false;  // nearly always: one lookup-free test per worker
  bool held = false;
  for (const std::string& q : queues) {
    auto it = until_.find(q);
    if (it == until_.end()) continue;
    if (it->second <= now) {
      until_.erase(it);
    } else {
      held = true;
    }
  }
  return held;
}

}  // namespace leaseq
