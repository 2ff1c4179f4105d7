// Inbox: requests to the broker loop from other threads of the broker
// process (the HTTP thread's retry and cancel buttons).
//
// Why this way: the loop is the database's only writer, and each of its
// passes is one transaction (a group commit); a second connection writing
// from the HTTP thread would race it for the write lock, and could slow
// dispatch or fail with SQLITE_BUSY. So the HTTP thread writes nothing: it
// posts the same request leaseq-ctl would send (a wire::Message) here, the
// loop takes it at the start of a pass and handles it exactly as a ZeroMQ
// request (OnRequest: same store operations, same aborts to workers), and
// the reply comes back only after the pass's commit (Broker::Flush), like an
// acknowledgement over ZeroMQ. Replies are matched by a routing id that no
// ZeroMQ peer can have (ZeroMQ's start with a zero byte and are 5 bytes
// long; a peer may not choose one starting with a zero byte).
//
// Thread-safe: Post and Take/Deliver may be called from different threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"

namespace leaseq {

class Inbox {
 public:
  // True for the routing ids of this inbox's requests.
  static bool Owns(const std::string& routing_id);

  // Posts a request and waits up to timeout_ms for the loop's reply.
  // Status::Unavailable when the loop did not answer in time.
  Status Call(wire::Message request, int timeout_ms, wire::Message* reply);

  // The loop: the requests waiting, with their routing ids.
  std::vector<std::pair<std::string, wire::Message>> Take();
  // The loop: the reply to a request (after the pass committed).
  void Deliver(const std::string& routing_id, wire::Message reply);
  // The loop has ended: callers waiting, and later ones, get Unavailable.
  void Close();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_ = 0;
  std::vector<std::pair<std::string, wire::Message>> waiting_;
  std::map<std::string, wire::Message> replies_;
  std::map<std::string, bool> open_;  // requests whose caller still waits
  bool closed_ = false;
};

}  // namespace leaseq
