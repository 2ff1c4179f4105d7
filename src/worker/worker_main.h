// WorkerMain: the worker's command line, shared by leaseq-worker and every
// worker built on the public API (include/leaseq/worker.h): parses the flags
// of the README's leaseq-worker (and --drain-timeout-ms, --heartbeat-ms),
// then runs a Nanny (--nanny: it re-execs this same binary as its worker)
// or a WorkerLoop offering `functions`. Returns the exit status: 0 after a
// clean stop, 2 for bad flags, 1 when the worker cannot run,
// kExitNameInUse when the broker refused its name (another live worker
// holds it; a nanny whose worker is refused exits with it too).
//
// Defined in main.cc (where the flags have always been parsed). Installs
// process-wide signal handlers: call once per process, from one thread.
#pragma once

#include <memory>

#include "worker/function_registry.h"

namespace leaseq::worker {

inline constexpr int kExitNameInUse = 4;

int WorkerMain(int argc, char** argv, std::shared_ptr<const FunctionRegistry> functions);

}  // namespace leaseq::worker
