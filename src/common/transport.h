// Transport: sending and receiving codec messages on ZeroMQ sockets, and the
// socket options every leaseq socket gets (message size limit, linger).
// Functions here are thread-compatible (a socket belongs to one thread).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/protocol.h"
#include "common/status.h"

namespace leaseq::transport {

// ZMQ_MAXMSGSIZE, ZMQ_LINGER (short, so a closing process never hangs)
// and generous high-water marks.
void ApplyCommonOptions(zmq::socket_t& s);

// Sends m, preceded by routing_id when given (ROUTER side). Never blocks:
// a message that cannot be queued now is dropped, and false is returned. A
// signal that lands in the call (EINTR) is not a failure: the frame is sent
// again, so a message is never dropped nor split by one.
bool Send(zmq::socket_t& s, const wire::Message& m,
          const std::optional<std::string>& routing_id = std::nullopt);

// Receives one multipart message without blocking. Returns false when no
// message was waiting. When expect_routing_id, the first frame is stored in
// *routing_id. *status tells whether the frames decoded; a message that did
// not decode is still consumed (and *routing_id is set, to reply with an error).
// results_as_text: decoded by wire::DecodeResultsAsText (the broker's port).
bool Receive(zmq::socket_t& s, bool expect_routing_id, std::string* routing_id,
             wire::Message* out, Status* status, bool results_as_text = false);

// zmq::poll that never throws for a signal: cppzmq turns zmq_poll's EINTR
// (SIGTERM, SIGCHLD landing in the call) into an exception, which aborted
// the nanny once. A signal ends the wait early with nothing ready (every
// revents cleared) and returns 0; callers re-check their deadlines and
// their signal pipe. Other errors still throw (they are bugs).
int Poll(zmq::pollitem_t* items, size_t n, std::chrono::milliseconds timeout);
inline int Poll(std::vector<zmq::pollitem_t>& items, std::chrono::milliseconds timeout) {
  return Poll(items.data(), items.size(), timeout);
}

}  // namespace leaseq::transport
