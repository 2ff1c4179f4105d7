// The reader of a chaos run's work directory (workdir.h): run.json, the
// manifest, faults, findings, stalls, the side-effect log, the database and
// the nannies' logs, turned into a Snapshot for the invariants (invariants.h)
// and the run's own figures for the report. Reads files only; call it once
// the cluster has stopped. Thread-compatible (no shared state).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "invariants.h"
#include "snapshot.h"

namespace leaseq::chaos {

// What run.json and faults.jsonl say about the run.
struct RunInfo {
  uint64_t seed = 0;
  int seconds = 0;
  int workers = 0;
  int slots = 0;
  int heartbeat_ms = 0;
  int liveness = 0;
  int allowed_failures = 0;
  bool net_faults = false;  // the run had network faults (--net-faults)
  int64_t window_start_ms = 0, window_end_ms = 0, run_end_ms = 0;
  // Faults: injected by kind, skipped by kind (no live target, broker down).
  std::map<std::string, int> faults;
  std::map<std::string, int> skipped;
};

struct WorkDir {
  RunInfo run;
  Snapshot snapshot;
  // Found while reading: unreadable files, the runner's findings, an
  // unsound database file. Violations, and findings the runner marked as notes.
  std::vector<Violation> violations;
  std::vector<Violation> notes;
};

// Reads DIR into *out. False when it cannot be judged at all (run.json or
// the database unreadable); out->violations says why.
bool ReadWorkDir(const std::string& dir, WorkDir* out);

}  // namespace leaseq::chaos
