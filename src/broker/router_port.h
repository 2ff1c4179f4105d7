// RouterPort: how the broker core (broker.h) meets its workers and clients.
// The core never touches a socket: it takes the waiting messages from a
// port and hands it the messages to send. BrokerLoop (broker_loop.h) gives
// it a ZeroMQ ROUTER socket; the simulator (tools/sim/) a simulated network.
//
// The contract is the ROUTER socket's, with router_mandatory set:
//  - every message comes with the routing id of the connection it came on
//    (a worker that reconnects gets a new one);
//  - Send never blocks; it returns false when that connection is gone (the
//    core then releases a task it could not deliver);
//  - messages on one connection arrive in the order they were sent.
// Not thread-safe: used from the core's thread only.
#pragma once

#include <string>

#include "common/protocol.h"
#include "common/status.h"

namespace leaseq {

class RouterPort {
 public:
  virtual ~RouterPort() = default;
  // One waiting message, without blocking; false when none waits. A message
  // that does not decode is returned with *decoded set to why (the core
  // answers it with an error); *decoded is Ok otherwise.
  virtual bool Receive(std::string* routing_id, wire::Message* m, Status* decoded) = 0;
  // Sends m on connection routing_id without blocking; false when it is gone.
  virtual bool Send(const std::string& routing_id, const wire::Message& m) = 0;
};

}  // namespace leaseq
