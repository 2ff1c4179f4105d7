// SignalPipe: the self-pipe trick. Install() points the given signals at a
// handler that writes the signal number into a non-blocking pipe, so that a
// poll loop (the worker's, the nanny's) sees signals as one more readable fd
// and handles them in ordinary code, never inside a handler.
//
// Signal dispositions are process-wide, so this is a process-wide singleton.
// Install() is not thread-safe (call it from one thread, before polling);
// the handler itself is async-signal-safe; Drain() belongs to the one thread
// that polls read_fd().
#pragma once

#include <initializer_list>
#include <vector>

#include "common/status.h"

namespace leaseq::worker {

class SignalPipe {
 public:
  // Creates the pipe (once), installs the handler for these signals and
  // unblocks them (a signal that arrived blocked is then delivered).
  // SIGPIPE is set to ignored as well: writes to a closed task stdin must
  // come back as EPIPE, not kill the process.
  static Status Install(std::initializer_list<int> signals);

  // The read end to poll for POLLIN; -1 before Install().
  static int read_fd();

  // Reads every signal number delivered since the last call (oldest first).
  static std::vector<int> Drain();
};

}  // namespace leaseq::worker
