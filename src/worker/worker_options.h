// WorkerOptions: how a worker is configured (leaseq-worker's flags, a
// nanny's child, leaseq::Worker). Read by the worker core (worker_core.h)
// and by the real loop (worker_loop.h: broker and curve, for its socket).
// A plain value.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/curve.h"
#include "worker/function_registry.h"

namespace leaseq::worker {

struct WorkerOptions {
  std::string broker = config::kDefaultBroker;
  std::string name;  // required
  // Our `session`; empty: a new random one. A nanny chooses its child's,
  // "<nanny>.<n>", and passes its own id as `nanny`, sent in register: the
  // broker then lets its next child take the name at once (name_claim.h).
  std::string session;
  std::string nanny;
  int slots = 1;
  // Tasks held beyond the slots, started as soon as one frees, so that a
  // short task never waits for a round trip to the broker. -1: adaptive
  // (AdaptivePrefetch, from the recent run times; `slots` at first).
  int prefetch = -1;
  std::vector<std::string> queues = {"default"};
  int heartbeat_ms = config::kHeartbeatMs;  // until the broker's welcome says otherwise
  int liveness = config::kLiveness;         // likewise
  int drain_timeout_ms = config::kDrainTimeoutMs;
  // The in-process functions it offers (fns[] in register); nullptr: none.
  std::shared_ptr<const FunctionRegistry> functions;
  // CURVE for the broker socket (curve.h); disabled: a plain connection.
  curve::ClientSettings curve;
};

}  // namespace leaseq::worker
