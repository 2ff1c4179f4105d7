// What every child the worker or the nanny starts does between fork() and
// exec(): its own process group (so the parent can kill the whole tree with
// one kill(-pgid)), PR_SET_PDEATHSIG(SIGKILL) (so it dies with its parent
// instead of outliving it: a SIGKILLed worker must not leave its commands
// running while their tasks run again elsewhere), and a clean signal state
// (default dispositions, nothing blocked: the parent ignores SIGPIPE and
// handles SIGTERM, which a command must not inherit).
//
// Async-signal-safe: the parent is multi-threaded (ZeroMQ's I/O threads), so
// the child may call only such functions before exec. Note that the death
// signal fires when the *thread* that forked exits, not the process.
#pragma once

#include <sys/types.h>

namespace leaseq::worker {

// Call in the child right after fork(). parent is getpid() of the parent,
// read before fork(). Returns false when the parent already died (the child
// should _exit at once: nobody waits for it).
bool PrepareChild(pid_t parent);

}  // namespace leaseq::worker
