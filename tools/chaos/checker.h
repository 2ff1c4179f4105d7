// The invariant checker: reads a chaos run's work directory (workdir.h) once
// the cluster has stopped, and reports every broken promise.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace leaseq::chaos {

struct CheckReport {
  // From run.json.
  uint64_t seed = 0;
  int seconds = 0;
  int workers = 0;
  int slots = 0;
  int heartbeat_ms = 0;
  int liveness = 0;
  int allowed_failures = 0;
  int64_t window_start_ms = 0, window_end_ms = 0, run_end_ms = 0;

  // Faults: injected by kind, skipped by kind (no live target, broker down).
  std::map<std::string, int> faults;
  std::map<std::string, int> skipped;
  int poison_kills = 0;  // workers killed by poison tasks (executions seen in the log)
  int faults_total() const;

  // Tasks.
  int manifest_tasks = 0;
  int db_tasks = 0;
  int acked_keys = 0;
  std::map<std::string, int> states;
  // Clients killed half-way: keys printed before the kill; not submitted
  // again: stored anyway (committed, unacknowledged) or absent; submitted again.
  int clients_killed = 0, clients_killed_printed = 0, clients_killed_stored = 0,
      clients_killed_absent = 0, clients_killed_resubmitted = 0;
  int failed_doomed = 0, failed_poison = 0, failed_by_dependency = 0, failed_collateral = 0;

  // Attempts and executions.
  int attempts = 0;
  std::map<std::string, int> outcomes;
  int reexecutions = 0;                       // attempts beyond the first, per task
  std::map<std::string, int> reexec_by_cause;  // the outcome of the attempt that was re-run
  int executions = 0;                         // attempts whose command started (log)
  int duplicate_executions = 0;               // executions of done tasks beyond the one accepted
  int attempts_never_started = 0;             // leased but the command never ran (lost in flight)

  // Lost attempts by what explains them.
  int lost_killed = 0;     // the worker was SIGKILLed (by chaos or a poison task)
  int lost_stopped = 0;    // the worker was frozen (SIGSTOP)
  int lost_drained = 0;    // the worker was draining (SIGTERM)
  int lost_phantom = 0;    // leased to a worker that was already dead or frozen
  int lost_stall = 0;      // no fault, but the machine stalled (see stalls.jsonl)
  // Lost attempts by their blame at the end: suspected, death, withdrawn.
  std::map<std::string, int> blame;
  int stalls = 0;          // runner ticks of 150 ms or more (an overloaded machine)
  int64_t longest_stall_ms = 0;

  // category -> examples (all counted, a few kept).
  std::map<std::string, int> violation_counts;
  std::map<std::string, std::vector<std::string>> violation_examples;
  std::map<std::string, int> note_counts;
  std::map<std::string, std::vector<std::string>> note_examples;

  void Violation(const std::string& category, const std::string& detail);
  void Note(const std::string& category, const std::string& detail);
  int violations() const;
};

// Checks the work directory DIR. Problems reading it are violations too.
CheckReport Check(const std::string& dir);

// The table: faults, tasks, attempts, re-executions, violations.
void PrintReport(const CheckReport& r, FILE* out, int examples_per_category = 5);

}  // namespace leaseq::chaos
