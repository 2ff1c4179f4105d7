// The chaos runner: a broker and N workers under nannies on 127.0.0.1, a
// seeded DAG fed to them in waves, and for --seconds a seeded schedule of
// faults (workers SIGKILLed, SIGTERMed, frozen; the broker SIGKILLed or
// SIGTERMed and restarted; a leaseq-submit --file client SIGKILLed half-way;
// with --net-faults also links cut, all at once, or flapping). Then it lets
// the work finish, stops the cluster and leaves the work directory
// (workdir.h) for the checker. The parts: cluster.h (the processes),
// submissions.h (the work), faults.h (the faults), journal.h (the records).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace leaseq::chaos {

struct RunOptions {
  int seconds = 60;
  uint64_t seed = 0;
  int workers = 4;
  int slots = 2;
  int tasks = 3000;
  int wave_size = 200;
  int poison = -1;  // -1: from the DAG's size
  int doomed = -1;
  std::string bin;
  std::string dir;  // the work directory (created, must not exist or be empty)
  int heartbeat_ms = 200;
  int liveness = 3;
  int allowed_failures = 3;
  int drain_timeout_ms = 1500;
  int fault_interval_ms = 1000;  // mean time between two faults
  std::vector<std::string> fault_kinds;  // empty: all (the network's only with net_faults)
  // The broker and each worker in a network namespace of their own, and the
  // network faults among the kinds (needs root).
  bool net_faults = false;
  int settle_seconds = 240;  // after the window: how long the work may take to finish
  int progress_seconds = 10;
};

// Runs the cluster and the faults; false when the run itself could not be
// carried out (a binary missing, a broker that never started), with a message.
// Problems of leaseq itself are written to findings.jsonl, not returned.
bool RunChaos(const RunOptions& opt, std::string* error);

// The fault kinds that can be scheduled (workdir.h's names), and those of
// them that need net_faults.
const std::vector<std::string>& AllFaultKinds();
bool IsNetFault(const std::string& kind);

}  // namespace leaseq::chaos
