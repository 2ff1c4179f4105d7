// Handshake monitor: a client's view of its CURVE handshake. A refused
// handshake looks like silence on the socket; the monitor reads the
// socket's monitor events so that the client can say why ("the broker
// refused our key") instead of timing out.
// Thread-safety: see the class comment.
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

#include "common/curve.h"
#include "common/status.h"

namespace leaseq::curve {

// HandshakeMonitor: reads the ZMQ socket monitor events of one connecting
// socket (zmq_socket_monitor to a PAIR in the same context) and tells a
// refused handshake from silence:
//   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH      the broker's ZAP handler refused our
//                                        key (definitive)
//   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL  a mechanism mismatch: one side uses
//                                        CURVE, the other not (definitive);
//                                        other protocol errors after 3 in a row
//   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL the broker closed the connection in
//                                        the handshake: with CURVE, a wrong
//                                        server key (definitive after 3 in a
//                                        row without a success)
// It also counts the handshakes that succeed on the socket: a second one
// means ZeroMQ made the connection anew (the peer went away and came back,
// say a restarted broker), which TakeReconnected() reports once.
// Not thread-safe: used by the thread that owns the monitored socket. It
// never touches the monitored socket after Attach(), so either may be
// closed first; both must be closed before the context is terminated.
class HandshakeMonitor {
 public:
  HandshakeMonitor() = default;
  HandshakeMonitor(const HandshakeMonitor&) = delete;
  HandshakeMonitor& operator=(const HandshakeMonitor&) = delete;

  // Starts watching s, which must not be connected yet. settings: those
  // applied to s (for the wording: our key, the server key's file).
  // endpoint: for the messages. Failures count across Attach() calls (a
  // Lazy Pirate client opens a socket per try) until a handshake succeeds.
  Status Attach(zmq::context_t& context, zmq::socket_t& s, const ClientSettings& settings,
                const std::string& endpoint);
  // Stops reading (closes the PAIR); Attach() may be called again.
  void Detach();
  // Stops the monitoring on the watched socket, which must still be open.
  // Call it before closing that socket: libzmq's I/O thread sends monitor
  // events with a blocking send, so an event for a PAIR already closed
  // would block that thread for good (the worker could never register again).
  void Stop();
  // For zmq::poll (ZMQ_POLLIN); nullptr when not attached.
  void* handle() const { return pair_ ? pair_->handle() : nullptr; }

  // Reads the waiting events without blocking. Returns true when the broker
  // has definitively refused this peer; refusal() then says why.
  bool Poll();
  const std::string& refusal() const { return refusal_; }
  // True once after each handshake that succeeded on the socket after its
  // first one (read by Poll()): the connection was made anew.
  bool TakeReconnected() {
    const bool r = reconnected_;
    reconnected_ = false;
    return r;
  }
  // Handshakes that succeeded on the socket since Attach() (read by Poll()):
  // when it changes, a connection was made.
  int handshakes() const { return handshakes_; }
  // The last handshake failure seen, definitive or not ("" if none since
  // the last success): for a timeout message.
  const std::string& last_failure() const { return last_failure_; }

 private:
  std::unique_ptr<zmq::socket_t> pair_;
  void* watched_ = nullptr;  // the monitored socket, until Stop()
  ClientSettings settings_;
  std::string endpoint_;
  int failures_in_a_row_ = 0;
  int handshakes_ = 0;  // succeeded since Attach()
  bool reconnected_ = false;
  std::string refusal_;
  std::string last_failure_;
};

}  // namespace leaseq::curve
