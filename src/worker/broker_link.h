// BrokerLink: the worker's DEALER socket to the broker (the real Link of
// link.h), with the Paranoid Pirate rules of docs/protocol.md: any message
// heard from the broker counts as a heartbeat; after heartbeat_ms x
// liveness of silence (counted from the last message heard, or from the
// connection made, as the socket monitor reports it, whichever is later:
// registers queued while the broker was down reach it only then;
// ReconnectTimers::Connected) the socket is closed (linger 0: what it still queued
// is stale) and, after a backoff (config::kReconnectInitialMs doubling up to
// config::kReconnectMaxMs, reset by ResetBackoff() on a welcome), a new
// socket is opened. The owner sends `register` whenever Tick() reports
// kReopened, and at once when the socket monitor sees a connection made
// anew (kReconnected: a restarted broker does not know the worker, and an
// idle worker's next heartbeat may be far).
//
// CURVE (curve.h): with enabled settings every socket is a CURVE client. A
// handshake the broker refuses (our key not admitted, CURVE on one side
// only, a wrong broker key) is seen by a socket monitor: Tick() logs why
// (at most every 30 s for the same reason), closes the socket and reports
// kLost, and the backoff above paces the next tries (a key added to the
// broker's allow directory is then admitted without restarting anything).
//
// Times are steady-clock milliseconds passed in by the owner. Not
// thread-safe: one thread owns the link (as ZeroMQ sockets require).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "common/curve.h"
#include "common/handshake_monitor.h"
#include "common/protocol.h"
#include "common/status.h"
#include "worker/link.h"
#include "worker/reconnect_timers.h"

namespace leaseq::worker {

class BrokerLink final : public Link {
 public:
  BrokerLink(zmq::context_t& context, std::string endpoint, curve::ClientSettings curve = {});

  // Opens a new socket (closing any old one) and connects it.
  Status Open(int64_t now_ms) override;
  // Closes the socket, waiting up to linger_ms to deliver what is queued.
  void Close(int linger_ms) override;
  bool is_open() const override { return socket_ != nullptr; }
  // For zmq::poll; nullptr when closed.
  zmq::socket_t* socket() { return socket_.get(); }

  // Sends without blocking; false when closed or the queue is full.
  bool Send(const wire::Message& m) override;
  // One message, without blocking; false when none waits. A message that
  // does not decode is logged and skipped (it still counts as heard).
  bool Receive(wire::Message* m, int64_t now_ms) override;

  // Applies the silence and reconnect timers.
  Event Tick(int64_t now_ms, int64_t silence_limit_ms) override;
  // The socket is open and the broker was heard less than limit ago.
  bool HeardWithin(int64_t now_ms, int64_t limit_ms) const override {
    return socket_ != nullptr && timers_.HeardWithin(now_ms, limit_ms);
  }
  // A welcome came: the next reconnect starts from the initial backoff.
  void ResetBackoff() override;
  // When Tick() next has something to do (for the poll timeout).
  int64_t NextDeadline(int64_t silence_limit_ms) const override;

  const std::string& endpoint() const override { return endpoint_; }

 private:
  zmq::context_t& context_;
  std::string endpoint_;
  curve::ClientSettings curve_;
  curve::HandshakeMonitor monitor_;  // of socket_, while open
  std::string last_refusal_;         // logged at last_refusal_ms_
  int64_t last_refusal_ms_ = 0;
  int handshakes_seen_ = 0;          // of the monitor, since Open(): a change is a connection made
  int64_t last_tick_ms_ = 0;         // the last Tick() or Open(): the earliest a connection seen next was made
  std::unique_ptr<zmq::socket_t> socket_;
  ReconnectTimers timers_;
};

}  // namespace leaseq::worker
