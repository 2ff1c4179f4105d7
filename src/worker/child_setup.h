// What every child the worker or the nanny starts does between fork() (or
// clone(CLONE_VM | CLONE_VFORK), ProcessRunner) and exec(): its own process group (so the parent can kill the whole tree with
// one kill(-pgid)), PR_SET_PDEATHSIG(SIGKILL) (so it dies with its parent
// instead of outliving it: a SIGKILLed worker must not leave its commands
// running while their tasks run again elsewhere), and a clean signal state
// (default dispositions, nothing blocked: the parent ignores SIGPIPE and
// handles SIGTERM, which a command must not inherit).
//
// Async-signal-safe: the parent is multi-threaded (ZeroMQ's I/O threads), so
// the child may call only such functions before exec. Plain system calls
// that write no memory but errno: safe in a child that shares the parent's
// memory (CLONE_VM). Such a child must enter with every signal blocked
// (none of the parent's handlers may run in it): dispositions are reset
// before the mask is cleared. Note that the death
// signal fires when the *thread* that forked exits, not the process.
#pragma once

#include <sys/types.h>

namespace leaseq::worker {

// Call in the child right after fork() / clone(). parent is getpid() of the parent,
// read before fork(). Returns false when the parent already died (the child
// should _exit at once: nobody waits for it).
bool PrepareChild(pid_t parent);

}  // namespace leaseq::worker
