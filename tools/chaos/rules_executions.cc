// Executions: every command that ran (the side-effect log) ran for an
// attempt of the database, once, after its lease and its dependencies; every
// accepted result came from a complete execution.
#include <map>

#include "rules.h"

namespace leaseq::chaos::rules {

void CheckExecutions(RuleContext& c) {
  std::map<std::pair<std::string, int64_t>, const StoredAttempt*> by_key_no;
  for (const auto& [task_id, at] : c.attempts) {
    for (const auto& a : at) by_key_no[{a.task_key, a.attempt_no}] = &a;
  }
  for (const auto& [kn, ep] : c.log) {
    const Execution& e = *ep;
    const std::string& key = kn.first;
    const std::string what = key + " #" + std::to_string(kn.second);
    if (e.starts == 0) {
      c.Violation("side-effect log", what + ": an end or fail line without a start");
      continue;
    }
    c.tally.executions++;
    if (e.starts > 1) {
      c.Violation("one attempt executed twice", what + " started " + std::to_string(e.starts) + " times");
    }
    auto at = by_key_no.find(kn);
    if (at == by_key_no.end()) {
      c.Violation("execution without an attempt", what + " ran but the database has no such attempt");
      continue;
    }
    const StoredAttempt& a = *at->second;
    if (e.start_ms < a.started_at) {
      c.Violation("execution before its lease", what + " started " + c.Ms(e.start_ms) +
                                                    ", leased " + c.Ms(a.started_at));
    }
    const StoredTask& t = *c.tasks.at(key);
    for (int64_t d : t.deps) {
      const StoredTask* dt = c.Dep(d);
      if (dt == nullptr) continue;
      const StoredAttempt* da = c.DoneAttempt(*dt);
      if (da == nullptr || !da->ended_at || e.start_ms < *da->ended_at) {
        c.Violation("executed before its dependencies were done",
                    what + " started " + c.Ms(e.start_ms) + ", dependency " + dt->key +
                        (da != nullptr && da->ended_at ? " done " + c.Ms(*da->ended_at) : " never done"));
      }
    }
    if (t.state == "done") {
      const StoredAttempt* da = c.DoneAttempt(t);
      if (da != nullptr && da != &a && a.outcome != "error") {
        c.tally.duplicate_executions++;
        if (da->ended_at && e.start_ms > *da->ended_at) {
          c.Note("stale attempt started after the task was done",
                 what + " on " + a.worker + " (" + a.outcome + ") started " + c.Ms(e.start_ms) +
                     ", done " + c.Ms(*da->ended_at));
        }
      }
    }
  }
  // The accepted result came from a complete execution of that attempt.
  for (const auto& t : c.s.tasks) {
    const std::string& key = t.key;
    if (t.state != "done") continue;
    const StoredAttempt* da = c.DoneAttempt(t);
    if (da == nullptr) continue;
    const Execution* e = c.Executed(key, da->attempt_no);
    if (e == nullptr || e->end_ms < 0) {
      c.Violation("accepted result without a complete execution",
                  key + " #" + std::to_string(da->attempt_no) + " done, but the log has no end line for it");
    } else if (e->value + "\n" != t.result) {
      c.Violation("accepted result without a complete execution",
                  key + " #" + std::to_string(da->attempt_no) + ": the execution printed " +
                      e->value + ", stored " + Quote(t.result, 40));
    }
  }
  for (const auto& [task_id, at] : c.attempts) {
    for (const auto& a : at) {
      if (c.Executed(a.task_key, a.attempt_no) == nullptr) c.tally.attempts_never_started++;
    }
  }
}

}  // namespace leaseq::chaos::rules
