// Worker processes: every end of one, as its nanny saw it, has a cause: a
// SIGKILL of ours or of a poison task, or an exit 0 after a SIGTERM of ours
// (a drain) or the final stop. Anything else is a crash.
#include <map>
#include <set>

#include "rules.h"

namespace leaseq::chaos::rules {

void CheckWorkerProcesses(RuleContext& c) {
  for (const auto& [name, state] : c.s.workers) {
    if (state == "alive") c.Note("worker still alive in the database after the stop", name);
  }
  std::set<int64_t> killed, termed;
  for (const auto& f : c.s.worker_faults) {
    if (f.type == WorkerFault::kKilled) killed.insert(f.pid);
    if (f.type == WorkerFault::kDrained) termed.insert(f.pid);
  }
  std::map<std::string, int> poison_runs;  // worker -> poison executions on it
  for (const auto& [task_id, at] : c.attempts) {
    for (const auto& a : at) {
      const Execution* e = c.Executed(a.task_key, a.attempt_no);
      if (e != nullptr && e->poison) poison_runs[a.worker]++;
    }
  }
  std::map<std::string, int> unexplained_sigkills;  // worker -> SIGKILL deaths not ours
  for (const auto& p : c.s.process_ends) {
    if (p.signal == 9) {
      if (killed.count(p.pid) == 0) ++unexplained_sigkills[p.worker];
    } else if (p.signal == 0 && p.status == 0) {
      if (termed.count(p.pid) == 0 && !p.asked_to_stop) {
        c.Violation("worker exited by itself", p.worker + ": " + p.how + p.context);
      }
    } else {
      c.Violation("worker crashed", p.worker + ": " + p.how + p.context);
    }
  }
  for (const auto& [name, n] : unexplained_sigkills) {
    if (n > poison_runs[name]) {
      c.Violation("worker SIGKILLed by no fault",
                  name + ": " + std::to_string(n) + " SIGKILL death(s) not ours, " +
                      std::to_string(poison_runs[name]) + " poison execution(s) on it");
    }
  }
}

}  // namespace leaseq::chaos::rules
