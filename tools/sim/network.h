// Network: the ZeroMQ connections between the simulated sockets (workers',
// nannies', clients') and the one broker, on simulated time.
//
// It keeps the guarantees ZeroMQ over TCP gives and nothing more:
//  - messages on one connection arrive in order, each after a random delay;
//    connections are not ordered with each other;
//  - a socket opened while the broker is down (or before it comes back)
//    queues what it sends and connects after a reconnect delay; each
//    connection to a broker incarnation gets a new routing id;
//  - a broker that dies loses what was on its way to it; what it had sent
//    still arrives;
//  - a socket closed with linger 0 drops what it queued; with linger, what
//    was on its way still arrives;
//  - the broker's send to a closed connection fails (router_mandatory)
//    once the close has reached it: at once for a local close, only after
//    the heal for a connection cut off by a partition;
//  - a cut (a partition: a switch down, a veth set down) holds every message
//    of the cut owner's connections, both ways, until the heal; nothing
//    fails, as TCP retransmits in silence.
// Deterministic: the same calls in the same order give the same deliveries.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "../chaos/rng.h"
#include "broker/router_port.h"
#include "common/protocol.h"
#include "sim_clock.h"

namespace leaseq::sim {

class Network {
 public:
  Network(SimClock* clock, chaos::Rng* rng) : clock_(clock), rng_(rng), port_(this) {}

  // Sockets, by owner: a worker index, or kClientOwner for clients and
  // nannies (never cut off).
  static constexpr int kClientOwner = -1;
  int Open(int owner);
  void Close(int conn, int linger_ms);
  bool Send(int conn, wire::Message m);
  // The next message that has arrived on conn; false when none.
  bool Receive(int conn, wire::Message* m);
  bool HasArrived(int conn) const;
  // How many times conn was connected to a broker (a socket monitor's
  // successful handshakes): more than once, it was made anew.
  int Attaches(int conn) const;

  // The broker's side: its ROUTER socket.
  RouterPort* broker_port() { return &port_; }
  bool BrokerHasInput() const { return !inbox_.empty(); }
  void BrokerDown();
  void BrokerUp();

  // A partition of one owner's connections until the given time.
  void Cut(int owner, int64_t until_ms);

  // Moves what has arrived by now into the broker's inbox, and connects
  // sockets whose reconnect delay has passed.
  void Deliver();
  // The earliest future moment something arrives or connects; INT64_MAX: none.
  int64_t NextEventMs() const;

  int64_t delivered() const { return delivered_; }
  // Every delivery goes into *trace as a line (--messages).
  void TraceMessages(std::vector<std::string>* trace) { message_trace_ = trace; }
  // A fold of every delivery (time, connection, command): equal runs, equal digests.
  uint64_t digest() const { return digest_; }

 private:
  struct InFlight {
    int64_t at;
    wire::Message m;
  };
  struct Conn {
    int owner;
    bool open = true;
    bool attached = false;
    int attaches = 0;
    int64_t attach_at = -1;    // -1: the broker is down
    std::string routing_id;    // while attached
    int64_t closed_known_at = 0;  // the broker's sends fail from then on
    std::deque<wire::Message> unsent;   // queued while not connected
    std::deque<InFlight> to_broker, to_worker;
    int64_t last_to_broker = 0, last_to_worker = 0;  // keeps each direction in order
  };
  class Port final : public RouterPort {
   public:
    explicit Port(Network* n) : n_(n) {}
    bool Receive(std::string* routing_id, wire::Message* m, Status* decoded) override;
    bool Send(const std::string& routing_id, const wire::Message& m) override;

   private:
    Network* n_;
  };

  int64_t ArrivalAt(Conn& c, bool to_broker);
  void Attach(int id, Conn& c);
  void Note(int conn, const wire::Message& m, bool to_broker);

  SimClock* clock_;
  chaos::Rng* rng_;
  Port port_;
  bool broker_up_ = false;
  int incarnation_ = 0;
  std::map<int, Conn> conns_;
  std::map<std::string, int> by_routing_id_;
  std::map<int, int64_t> cut_until_;  // owner -> heal time
  std::deque<std::pair<std::string, wire::Message>> inbox_;
  int next_conn_ = 1;
  int64_t delivered_ = 0;
  uint64_t digest_ = 1469598103934665603ULL;
  std::vector<std::string>* message_trace_ = nullptr;
};

}  // namespace leaseq::sim
