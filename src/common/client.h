// Client: one request, one reply, for leaseq-submit and leaseq-ctl, in the
// manner of the ZeroMQ guide's Lazy Pirate: a DEALER socket sends the request
// with a fresh id; no reply within the timeout closes the socket and tries
// again with a new one, up to a number of tries. Requests are idempotent
// (submissions carry their keys), so a retry never duplicates a task.
// With CURVE settings (curve.h) every socket is a CURVE client, and a
// monitor on it turns a refused handshake (unknown key, CURVE on one side
// only, wrong broker key) into an immediate Status instead of a timeout.
// Not thread-safe; one Client per thread.
#pragma once

#include <string>
#include <zmq.hpp>

#include "common/curve.h"
#include "common/handshake_monitor.h"
#include "common/protocol.h"
#include "common/status.h"

namespace leaseq {

class Client {
 public:
  explicit Client(std::string endpoint, int timeout_ms = -1, int tries = -1,
                  curve::ClientSettings curve = {});

  // Sends request (its body gets an "id") and waits for the matching reply.
  // A broker "error" reply becomes Status::Invalid with its message (*reply
  // holds it: wire::RefusalOf tells how it refused); a reply that does not
  // decode, or is not one a broker sends, Status::IoError; no answer at
  // all gives Status::Unavailable naming the endpoint (and hinting at CURVE);
  // a handshake the broker refused gives Status::Unavailable saying why.
  Status Call(wire::Message request, wire::Message* reply);

  const std::string& endpoint() const { return endpoint_; }

 private:
  std::string endpoint_;
  int timeout_ms_;
  int tries_;
  curve::ClientSettings curve_;
  zmq::context_t context_;
  int64_t next_id_;
};

}  // namespace leaseq
