// TaskProcess and ProcessStarter: how the worker core (worker_core.h) runs a
// task's command without knowing what a process is. The real worker starts
// ProcessRunner (fork/exec, pipes); a simulator starts processes of its own
// that end when its plan says.
//
// Contract of a TaskProcess, as the core uses it on every Step():
//  - Reap() then Pump() move it on (never block); once Finished(),
//    TakeOutcome() gives the result, once.
//  - Terminate() asks it to stop (SIGTERM to its process group: the task's
//    time limit); Kill() stops it for good (SIGKILL). Either way it still
//    reports Finished() and an outcome afterwards.
//  - Destroying it kills whatever still runs and reaps it: the core drops a
//    process this way for an abort, an abandon[] or the end of a drain.
//  - fds(): what a poll loop waits on to be woken for it; all -1 when the
//    process needs no fd (a simulated one: the simulator steps the core).
// ProcessStarter::Start gives a TaskProcess for a spec; a command that
// cannot run is still a process (finished, with the error); only a failure
// of the worker's own resources is an error Status (a failed attempt).
//
// Not thread-safe: the core's thread owns its processes and its starter.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace leaseq::worker {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string input;              // stdin bytes
  std::vector<std::pair<std::string, std::string>> env;  // added / replaced
  int64_t max_stdout_bytes = config::kMaxResultBytes;
  size_t stderr_tail_bytes = config::kStderrTailBytes;
};

struct ProcessOutcome {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // 0 when it exited
  std::string output;  // stdout (empty when it was too large)
  std::string error;   // "" on success; else stderr tail, or why it failed
  bool permanent = false;  // it could not start, and never will (process_runner.h)
  bool ok() const { return exit_code == 0 && signal == 0 && error.empty() && !permanent; }
};

// The fds a caller polls for one process; -1 when closed (or none).
struct ProcessFds {
  int stdin_fd = -1;   // poll for writability
  int stdout_fd = -1;  // poll for readability
  int stderr_fd = -1;  // poll for readability
};

class TaskProcess {
 public:
  virtual ~TaskProcess() = default;
  virtual ProcessFds fds() const = 0;
  // Moves bytes without blocking: feeds stdin, reads stdout and stderr.
  virtual void Pump() = 0;
  // Collects the exit status if it has ended (never blocks).
  virtual void Reap() = 0;
  // SIGTERM to the process group (a time limit: the command may clean up).
  virtual void Terminate() = 0;
  // SIGKILL to the process group. The outcome then reports the signal.
  virtual void Kill() = 0;
  // It has exited and its output is all read.
  virtual bool Finished() const = 0;
  // The outcome; call once Finished().
  virtual ProcessOutcome TakeOutcome() = 0;
};

class ProcessStarter {
 public:
  virtual ~ProcessStarter() = default;
  virtual Status Start(const ProcessSpec& spec, std::unique_ptr<TaskProcess>* out) = 0;
};

}  // namespace leaseq::worker
