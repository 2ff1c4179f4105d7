// BrokerLoop: the broker process's I/O, around the broker core (broker.h).
// It owns the ZeroMQ context, the ROUTER socket (and, with CURVE, the ZAP
// authenticator), and runs the core's passes: each time messages wait, and
// at least every kPassIntervalMs for its timers; at once again while a
// backup or a retention purge is in progress. After a pass that answered
// someone it may poll without sleeping for a moment first (answer_spin.h).
// Not thread-safe: Run() owns the socket and the core.
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

#include "broker/answer_spin.h"
#include "broker/broker.h"
#include "broker/router_port.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/zap_authenticator.h"

namespace leaseq {

class BrokerLoop {
 public:
  // Opens the store (Broker::Create) and binds the socket. The clock must
  // outlive the loop.
  static Status Create(const BrokerOptions& options, const Clock* clock,
                       std::unique_ptr<BrokerLoop>* out);
  ~BrokerLoop();

  // Runs until stop_fd becomes readable (a signalfd for SIGTERM/SIGINT).
  Status Run(int stop_fd);

  // The endpoint actually bound (resolves a port of *).
  std::string endpoint() const;

 private:
  class ZmqPort;
  BrokerLoop();

  zmq::context_t context_;
  // The ZAP handler (CURVE only): between the context and the socket, so it
  // outlives the socket it authenticates for and goes before the context.
  std::unique_ptr<curve::Authenticator> zap_;
  zmq::socket_t socket_;
  std::unique_ptr<ZmqPort> port_;
  std::unique_ptr<Broker> core_;
  AnswerSpin spin_;  // whether to poll without sleeping after an answer
};

}  // namespace leaseq
