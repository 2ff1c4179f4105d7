// Processes, as the chaos runner sees them: its children (ChildProcess,
// each tied to the runner's life and signalled by pid: the runner only ever
// signals processes it started itself, or, for workers, a process whose
// parent is a nanny it started), /proc, clocks and files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tools/testing/child_process.h"

namespace leaseq::chaos {

int64_t WallMs();    // milliseconds since the Unix epoch (the broker's clock)
int64_t SteadyMs();  // monotonic, for the runner's own timers

// The runner's children (tools/testing/child_process.h).
using Child = test_support::ChildProcess;
using test_support::FreePort;
using test_support::ReadFile;
// Output appended: a restarted broker or nanny writes on in the same log.
inline test_support::ChildOptions AppendTo(const std::string& out, const std::string& err) {
  test_support::ChildOptions o;
  o.stdout_path = out;
  o.stderr_path = err;
  o.append = true;
  return o;
}

// The parent pid and the state letter (R, S, T, Z...) of a process from
// /proc/PID/stat; false when there is no such process.
bool ProcStat(pid_t pid, pid_t* ppid, char* state);

// Whether the process blocks signal sig (/proc/PID/status, SigBlk): the
// broker blocks SIGTERM (to read it from a signalfd) early in main; a
// SIGTERM before that ends it at once, unclean.
bool BlocksSignal(pid_t pid, int sig);

std::vector<std::string> ReadLines(const std::string& path);

}  // namespace leaseq::chaos
