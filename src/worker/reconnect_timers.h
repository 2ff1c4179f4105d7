// ReconnectTimers: the Paranoid Pirate timers of a worker's link to the
// broker (docs/protocol.md), as pure state on times passed in: when the
// broker was last heard, when the next connection is due, and the backoff
// (config::kReconnectInitialMs doubling up to config::kReconnectMaxMs,
// reset after a welcome). BrokerLink applies them to its socket; a
// simulated Link can apply the same ones to its simulated connection.
// A plain value, not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/config.h"

namespace leaseq::worker {

class ReconnectTimers {
 public:
  // A socket was opened, or a message heard on it, at now_ms: the broker
  // gets a full silence period from then on.
  void Heard(int64_t now_ms) { last_heard_ms_ = now_ms; }
  // The socket's connection was made (or made anew) at some moment after
  // previous_look_ms, the owner's last look at the link before it saw the
  // connection: the broker gets a full silence period from then, the
  // earliest that moment can be. Counted from the opening alone, a broker
  // that came up late in that period could not answer in time the registers
  // queued for it. Counted from when the owner saw it, a stall of the
  // owner's loop too short to be noticed as a freeze (a brief SIGSTOP)
  // would extend it past what the broker sent meanwhile: a backlog that a
  // partition held up would then be taken for fresh.
  void Connected(int64_t previous_look_ms) {
    last_heard_ms_ = std::max(last_heard_ms_, previous_look_ms);
  }
  int64_t last_heard_ms() const { return last_heard_ms_; }
  bool HeardWithin(int64_t now_ms, int64_t limit_ms) const {
    return now_ms - last_heard_ms_ < limit_ms;
  }
  bool Silent(int64_t now_ms, int64_t limit_ms) const { return !HeardWithin(now_ms, limit_ms); }

  // The connection was dropped at now_ms (silence, a refused handshake):
  // the next one is due after the current backoff, which then doubles.
  // Returns the wait.
  int Lost(int64_t now_ms) {
    const int wait = backoff_ms_;
    reconnect_at_ms_ = now_ms + wait;
    backoff_ms_ = std::min(backoff_ms_ * 2, config::kReconnectMaxMs);
    return wait;
  }
  // Opening failed at now_ms: try again after the same backoff.
  void RetryLater(int64_t now_ms) { reconnect_at_ms_ = now_ms + backoff_ms_; }
  bool ReopenDue(int64_t now_ms) const { return now_ms >= reconnect_at_ms_; }
  void ResetBackoff() { backoff_ms_ = config::kReconnectInitialMs; }

  // When the owner next has something to do: the silence limit while
  // open, the reconnect while closed.
  int64_t NextDeadline(bool open, int64_t silence_limit_ms) const {
    return open ? last_heard_ms_ + silence_limit_ms : reconnect_at_ms_;
  }

 private:
  int64_t last_heard_ms_ = 0;
  int64_t reconnect_at_ms_ = 0;
  int backoff_ms_ = config::kReconnectInitialMs;
};

}  // namespace leaseq::worker
