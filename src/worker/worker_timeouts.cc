// WorkerCore: time limits. The worker owns the command's process, so it is
// the one that enforces a task's limit (the broker only sends it, resolved
// with the queue's default). A worker that cannot enforce it (frozen,
// partitioned) is covered by its leases, as for any other task.
#include <algorithm>

#include "common/duration.h"
#include "worker/worker_core.h"

namespace leaseq::worker {

void WorkerCore::EnforceTimeouts(int64_t now) {
  for (auto it = running_.begin(); it != running_.end();) {
    Attempt& a = it->second;
    // a.ended: the process is gone, its outcome only held (PumpTasks).
    if (a.deadline_ms == 0 || now < a.deadline_ms || a.ended) {
      ++it;
      continue;
    }
    if (a.call != nullptr) {
      // A call cannot be stopped: abandon it as an abort does (it runs to
      // its end on its thread, its output dropped) and free the slot now.
      ProcessOutcome o;
      o.error = "timed out after " + FormatDuration(a.timeout_ms) +
                " (the function call was abandoned: it runs on, its output dropped)";
      SendResult(it->first, o);
      it = running_.erase(it);
      continue;
    }
    if (a.runner != nullptr && a.kill_at_ms == 0) {
      // Seen only now (the worker was stalled): a command that has already
      // exited did not run past its limit, as far as anyone can tell.
      a.runner->Reap();
      a.runner->Pump();
      if (a.runner->Finished()) {
        ++it;
        continue;
      }
      // The whole process group, so that a shell's children stop as well.
      a.runner->Terminate();
      a.kill_at_ms = now + config::kTimeoutGraceMs;
      Log("task " + a.key + " timed out after " + FormatDuration(a.timeout_ms) +
          ": SIGTERM sent to its process group");
    } else if (a.runner != nullptr && !a.killed && now >= a.kill_at_ms) {
      a.runner->Kill();
      a.killed = true;
      Log("task " + a.key + " still there " + FormatDuration(config::kTimeoutGraceMs) +
          " after SIGTERM: SIGKILL sent");
    }
    ++it;
  }
}

int64_t WorkerCore::NextTimeoutMs() const {
  int64_t next = INT64_MAX;
  for (const auto& [id, a] : running_) {
    if (a.deadline_ms == 0 || a.killed || a.ended) continue;
    next = std::min(next, a.kill_at_ms != 0 ? a.kill_at_ms : a.deadline_ms);
  }
  return next;
}

ProcessOutcome WorkerCore::TimedOut(const Attempt& a, ProcessOutcome ended) {
  // Whatever it did after SIGTERM (even exit 0), the attempt failed. As for
  // a function's error, exit_code -1 and signal 0 make the broker store the
  // text as it is.
  ProcessOutcome o;
  o.error = "timed out after " + FormatDuration(a.timeout_ms) +
            (a.killed ? " (SIGTERM, then SIGKILL " + FormatDuration(config::kTimeoutGraceMs) +
                            " later, to its process group)"
                      : " (SIGTERM to its process group)");
  if (!ended.error.empty()) o.error += "; stderr: " + ended.error;
  return o;
}

}  // namespace leaseq::worker
