// Link: the worker core's connection to the broker, as the core sees it
// (worker_core.h). The real one is BrokerLink (a ZeroMQ DEALER socket with
// the Paranoid Pirate reconnect of docs/protocol.md); a simulator gives its
// own, on a simulated network.
//
// Contract (what the core relies on):
//  - Open() starts a new connection, dropping any old one and what it
//    queued; the broker then counts as heard at now_ms.
//  - Send() never blocks; false when closed or the message cannot be queued.
//    Messages sent on one connection arrive in order, or not at all.
//  - Receive() gives one waiting message without blocking; any message
//    received counts as hearing from the broker at now_ms.
//  - Tick() applies the silence and reconnect timers: after
//    silence_limit_ms without a word it closes the connection (kLost); once
//    the backoff has passed it opens a new one (kReopened: the core then
//    registers). kReconnected: the open connection was made anew underneath
//    (ZeroMQ reconnected after the broker went away, most often a restart):
//    the core registers at once, the broker may not know it. ResetBackoff() after a welcome makes the next backoff the
//    initial one again. NextDeadline() is when Tick() next has something to
//    do.
//  - Close(linger_ms) waits up to linger_ms to deliver what is queued.
//
// Times are steady milliseconds passed in by the owner. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/protocol.h"
#include "common/status.h"

namespace leaseq::worker {

class Link {
 public:
  enum class Event { kNone, kLost, kReopened, kReconnected };

  virtual ~Link() = default;
  virtual Status Open(int64_t now_ms) = 0;
  virtual void Close(int linger_ms) = 0;
  virtual bool is_open() const = 0;
  virtual bool Send(const wire::Message& m) = 0;
  virtual bool Receive(wire::Message* m, int64_t now_ms) = 0;
  virtual Event Tick(int64_t now_ms, int64_t silence_limit_ms) = 0;
  // The connection is open and the broker was heard less than limit ago.
  virtual bool HeardWithin(int64_t now_ms, int64_t limit_ms) const = 0;
  virtual void ResetBackoff() = 0;
  virtual int64_t NextDeadline(int64_t silence_limit_ms) const = 0;
  // Where it connects, for log lines.
  virtual const std::string& endpoint() const = 0;
};

}  // namespace leaseq::worker
