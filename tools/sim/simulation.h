// Simulation: one deterministic run of a whole leaseq cluster in this
// process: the real broker core (src/broker/broker.h) over a real SQLite
// file, the real worker cores (src/worker/worker_core.h), a client that
// submits the scenario's tasks (and submits again when unanswered, as
// leaseq-submit does), all on simulated time and a simulated network
// (network.h), with the scenario's faults. Invariants are checked after
// every broker pass and at the end (sim_checks.h).
//
// Same scenario, same run: the result's digest (a fold of every delivery)
// and the database are equal from run to run. Not thread-safe; several
// simulations may run in separate threads with separate directories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scenario.h"

namespace leaseq::sim {

struct RunResult {
  std::vector<std::string> violations;
  std::vector<std::string> trace;  // faults and process events, in order
  uint64_t digest = 0;
  int64_t simulated_ms = 0;
  int64_t deliveries = 0;
  int64_t passes = 0;
  int tasks_done = 0, tasks_failed = 0;
  int attempts = 0;
  bool ok() const { return violations.empty(); }
};

// Runs the scenario with its database in dir (created if missing; the file
// is replaced). Quiet: the cores' log lines are dropped unless verbose.
struct RunOptions {
  bool verbose = false;   // print the cores' log lines as they happen
  bool messages = false;  // every delivered message in the trace
};
RunResult RunSimulation(const Scenario& scenario, const std::string& dir, const RunOptions& options = {});

}  // namespace leaseq::sim
