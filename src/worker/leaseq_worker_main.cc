// leaseq-worker: runs tasks from a leaseq broker (README, "Using it"; docs/semantics.md):
// commands, and the built-in in-process functions noop, echo and sleep. It
// is the smallest worker written with the public API (include/leaseq/).
#include <leaseq/worker.h>

int main(int argc, char** argv) {
  leaseq::Worker worker;
  return worker.Run(argc, argv);
}
