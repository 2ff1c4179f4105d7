// PrefetchHold: after a worker hands back its prefetched tasks because every
// one of its slots runs a long task, no worker serving that queue gets
// prefetch credit for a while: the tasks handed back go to free slots only.
// Without it, each of them goes to the next worker whose prefetch short
// tasks had raised, which holds it behind a long task of its own and hands
// it back 100 ms later, and so on through every such worker (a thousand
// one-slot workers after `noop` tasks: 64,000 releases for 2,000 long
// tasks). Within the hold, the workers that now run long tasks lower their
// own prefetch (they see them run long), so nothing is left to hand back.
//
// A hand-back is a `release` that follows, within kHandBackWindowMs, a
// `ready` that took the worker's prefetch from above 0 to 0 while it still
// takes work (slots > 0): what leaseq-worker's adaptive prefetch sends. A
// drain (slots 0) is not one.
//
// Pure logic with the time passed in (steady ms); not thread-safe (the
// broker's loop owns it).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace leaseq {

class PrefetchHold {
 public:
  // A release this soon after the prefetch fell to 0 is its hand-back.
  static constexpr int64_t kHandBackWindowMs = 1000;

  explicit PrefetchHold(int64_t hold_ms) : hold_ms_(hold_ms) {}

  static bool IsHandBack(int64_t slots, int64_t prefetch, int64_t prefetch_dropped_ms, int64_t now) {
    return slots > 0 && prefetch == 0 && prefetch_dropped_ms > 0 &&
           now - prefetch_dropped_ms <= kHandBackWindowMs;
  }
  // A worker serving `queues` handed back its prefetched tasks at `now`.
  void HandedBack(const std::vector<std::string>& queues, int64_t now);
  // Whether a worker serving `queues` gets no prefetch credit at `now`.
  bool Held(const std::vector<std::string>& queues, int64_t now);

 private:
  int64_t hold_ms_;
  std::map<std::string, int64_t> until_;  // by queue; expired entries dropped when seen
};

}  // namespace leaseq
