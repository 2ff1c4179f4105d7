// WorkerLoop: the real leaseq worker, a thin loop around WorkerCore
// (worker_core.h, which holds the whole protocol: see there). It owns what
// the core does not touch: the system clock, the ZeroMQ context and the
// broker socket (BrokerLink), the starting of real processes
// (ProcessRunner), the signal self-pipe, and one zmq::poll over the socket,
// the self-pipe, the pipes of the running commands and the eventfd of the
// in-process function calls; after each poll it hands the signals and the
// time to the core and steps it.
//
// Run() installs process-wide signal handlers (SignalPipe) and forks the
// commands from the calling thread (their death signal is tied to it);
// functions run on the pool's threads, which never fork.
// Not thread-safe: one WorkerLoop per process, used from one thread.
#pragma once

#include <zmq.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "worker/broker_link.h"
#include "worker/process_runner.h"
#include "worker/worker_core.h"
#include "worker/worker_options.h"

namespace leaseq::worker {

class WorkerLoop {
 public:
  explicit WorkerLoop(WorkerOptions options);
  ~WorkerLoop();

  // Runs until drained (SIGTERM/SIGINT). Ok after a clean exit; an error
  // for what makes running impossible (a bad endpoint, no pipes), and
  // kConflict when the broker refused our name.
  Status Run();

 private:
  void Poll(int64_t now);

  SystemClock clock_;
  zmq::context_t context_;
  BrokerLink link_;
  ProcessRunnerStarter processes_;
  // Last: destroyed first, so that running commands are killed and reaped
  // before the socket and the context go.
  WorkerCore core_;
};

}  // namespace leaseq::worker
