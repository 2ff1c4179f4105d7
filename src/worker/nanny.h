// Nanny: `leaseq-worker --nanny`, a supervisor in the manner of Dask's nanny.
//  - Runs the worker as a child (exec of its own binary with worker_argv) in
//    its own process group, with PR_SET_PDEATHSIG(SIGKILL) so that a killed
//    nanny takes its worker (and, through the worker's own death signal, the
//    commands) down with it.
//  - Starts a new worker whenever the child dies, however it died (even a
//    clean exit 0 after a drain), after a backoff: 100 ms doubling to 5 s,
//    back to 100 ms once a child has lived 10 s or exited cleanly (a drain).
//  - A child that died other than by exit 0 is reported to the broker at
//    once with `lost` {name, pid, session} (a leaseq::Client, ~500 ms, 2
//    tries), so its leases are reclaimed without waiting for the heartbeat
//    timeout. With CURVE, that Client uses the worker's keys
//    (NannyOptions::curve). An unreachable broker is logged, not fatal.
//  - The nanny has a random id and names each child's session after it,
//    "<id>.<n>" (--session, --nanny-id): as it starts a child only after
//    reaping the last, the broker hands the name from one child to the next
//    at once, even if the `lost` did not arrive (or a child died before it
//    registered), while it refuses the name to any other process as long
//    as its holder lives (docs/protocol.md, "Worker names").
//  - A child refused because another live worker holds the name (exit
//    kExitNameInUse) is not restarted into the same refusal, nor reported
//    lost (its pid may be the holder's in another container): Run() returns
//    a kConflict Status.
//  - memory_limit_bytes > 0: every 100 ms it sums the resident memory of the
//    worker and all its descendants; at 95% of the limit it logs it, SIGKILLs
//    the whole tree (every process group in it), reports `lost`, restarts.
//  - SIGTERM/SIGINT: SIGTERM to the worker (a second one is forwarded too),
//    wait for it up to drain_timeout_ms + a margin, then SIGKILL; Run()
//    returns Ok.
// Run() installs process-wide signal handlers and forks: one Nanny per
// process, used from one thread. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/curve.h"
#include "common/status.h"

namespace leaseq::worker {

struct NannyOptions {
  // The worker's argv: argv[0] (its name in ps) and its flags, without
  // --nanny and --memory-limit, with --name (restarts keep the name).
  std::vector<std::string> worker_argv;
  std::string broker;  // for `lost`
  curve::ClientSettings curve;  // for `lost`: the worker's CURVE keys
  std::string name;    // the worker's name, for `lost` and the logs
  int64_t memory_limit_bytes = 0;  // 0: no limit
  int drain_timeout_ms = config::kDrainTimeoutMs;
};

class Nanny {
 public:
  explicit Nanny(NannyOptions options);

  // Supervises until SIGTERM/SIGINT; Ok once the worker is stopped;
  // kConflict when the broker refused the worker's name.
  Status Run();

 private:
  void StartChild(int64_t now);
  // Returns true when the child ended (it is then reaped and reported).
  bool ReapChild(bool block, int64_t now);
  void CheckMemory();
  void KillTree();
  // session: the dead child's; why: what the broker records on the lost
  // attempts, empty for a plain death (the broker then says the nanny saw
  // the process die).
  void SendLost(pid_t pid, const std::string& session, const std::string& why);
  void Log(const std::string& line) const;

  NannyOptions opt_;
  std::string exe_path_;  // the worker binary: our own
  pid_t child_ = -1;
  const std::string id_;       // random; our children's sessions are "<id>.<n>"
  int children_ = 0;           // started so far
  std::string child_session_;  // the session of child_, or of the one reaped last
  bool refused_ = false;       // the last child was refused its name
  int64_t child_started_ms_ = 0;
  int64_t restart_at_ms_ = 0;
  int backoff_ms_;
  bool stopping_ = false;
  int64_t stop_deadline_ms_ = 0;
  std::string kill_reason_;  // set when the nanny itself killed the child
};

}  // namespace leaseq::worker
