// The invariants of leaseq, judged on a Snapshot (snapshot.h): every promise
// the queue makes about a finished run (docs/reliability.md, "What the
// checker checks"). Pure functions of the snapshot: no I/O, no clock, no
// global state, so the chaos checker and a simulator call the same rules.
// Thread-safe (nothing shared).
//
//   std::vector<Violation> v = CheckInvariants(snapshot);   // empty: all kept
//   Evaluation e = Evaluate(snapshot);  // the same, plus notes and tallies
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "snapshot.h"

namespace leaseq::chaos {

// A broken promise (or, among Evaluation::notes, an oddity that is
// explained): the category names the promise, the detail the instance.
struct Violation {
  std::string category;
  std::string detail;
};

// Counts for the report.
struct Tallies {
  int manifest_tasks = 0;  // submitted
  int db_tasks = 0;        // stored
  int acked_keys = 0;
  std::map<std::string, int> states;
  // Clients killed half-way: keys printed before the kill; not submitted
  // again: stored anyway (committed, unacknowledged) or absent; submitted again.
  int clients_killed = 0, clients_killed_printed = 0, clients_killed_stored = 0,
      clients_killed_absent = 0, clients_killed_resubmitted = 0;
  int failed_doomed = 0, failed_poison = 0, failed_by_dependency = 0, failed_collateral = 0;

  int attempts = 0;
  std::map<std::string, int> outcomes;
  int reexecutions = 0;                        // attempts beyond the first, per task
  std::map<std::string, int> reexec_by_cause;  // the outcome of the attempt that was re-run
  int executions = 0;                          // attempts whose command started (log)
  int duplicate_executions = 0;                // executions of done tasks beyond the one accepted
  int attempts_never_started = 0;              // leased but the command never ran (lost in flight)

  int poison_kills = 0;  // workers killed by poison tasks (executions seen in the log)
  // Lost attempts by what explains them.
  int lost_killed = 0;   // the worker was SIGKILLed (by chaos or a poison task)
  int lost_stopped = 0;  // the worker was frozen (SIGSTOP)
  int lost_cut = 0;      // the worker's link was cut (a network partition)
  int lost_drained = 0;  // the worker was draining (SIGTERM)
  int lost_phantom = 0;  // leased to a worker that was already dead, frozen or cut off
  int lost_stall = 0;    // no fault, but the machine stalled
  // Lost attempts by their blame at the end: suspected, death, withdrawn.
  std::map<std::string, int> blame;
  int stalls = 0;  // stalls of the machine
  int64_t longest_stall_ms = 0;
};

struct Evaluation {
  std::vector<Violation> violations;
  std::vector<Violation> notes;
  Tallies tallies;
};

Evaluation Evaluate(const Snapshot& s);
std::vector<Violation> CheckInvariants(const Snapshot& s);

}  // namespace leaseq::chaos
