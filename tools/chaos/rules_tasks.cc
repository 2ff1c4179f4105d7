// Tasks: each stored as submitted, terminal at the end, its attempts one at
// a time and numbered, its counters equal to its attempts, leased only after
// its dependencies were done, ending as its kind must, with the right result.
#include <map>
#include <nlohmann/json.hpp>

#include "rules.h"

namespace leaseq::chaos::rules {

using nlohmann::json;

void CheckTasks(RuleContext& c) {
  const int64_t allowed = c.s.allowed_failures;
  for (const TaskDef& def : c.s.submitted) {
    const std::string& key = def.key;
    auto it = c.tasks.find(key);
    if (it == c.tasks.end()) continue;  // absent batch (checked with the submissions)
    const StoredTask& t = *it->second;
    const std::vector<StoredAttempt>& at = c.AttemptsOf(t.id);

    // Stored as submitted.
    std::vector<std::string> stored_after;
    for (int64_t d : t.deps) {
      const StoredTask* dt = c.Dep(d);
      stored_after.push_back(dt != nullptr ? dt->key : "#" + std::to_string(d));
    }
    if (stored_after != def.after) {
      c.Violation("stored differently from submitted",
                  key + ": after [" + Join(stored_after) + "], submitted [" + Join(def.after) + "]");
    }
    if (t.input != def.input || t.retries != def.retries || t.priority != def.priority) {
      c.Violation("stored differently from submitted", key + ": input/retries/priority differ");
    }
    if (!c.s.side_effect_log.empty()) {
      json cmd = json::parse(t.cmd, nullptr, false);
      if (cmd != json(TaskArgv(def, c.s.side_effect_log))) {
        c.Violation("stored differently from submitted", key + ": cmd " + Quote(t.cmd, 80));
      }
    }

    // Terminal (at the end).
    const bool terminal = t.state == "done" || t.state == "failed" || t.state == "cancelled";
    if (!terminal && c.s.at_end) {
      std::string last = at.empty() ? "no attempt" : "last attempt #" + std::to_string(at.back().attempt_no) +
                                                         " on " + at.back().worker + " " + at.back().outcome;
      c.Violation("task not terminal at the end", key + " is " + t.state + " (" + last + ")");
    }
    if (t.state == "cancelled") c.Violation("unexpected state", key + " is cancelled (nobody cancelled it)");

    // Attempts: numbered 1..n, one at a time, all ended.
    int done = 0, lost = 0, errors = 0, deaths = 0;
    for (size_t i = 0; i < at.size(); ++i) {
      const StoredAttempt& a = at[i];
      if (a.attempt_no != static_cast<int64_t>(i) + 1) {
        c.Violation("attempt numbering", key + ": attempt row " + std::to_string(i + 1) +
                                             " has attempt_no " + std::to_string(a.attempt_no));
      }
      if (a.outcome == "running" || !a.ended_at) {
        if (c.s.at_end) {
          c.Violation("attempt still running at the end",
                      key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " (task " + t.state + ")");
        }
      } else if (*a.ended_at < a.started_at) {
        c.Violation("attempt ends before it starts", key + " #" + std::to_string(a.attempt_no));
      }
      if (i > 0 && at[i - 1].ended_at && a.started_at < *at[i - 1].ended_at) {
        c.Violation("overlapping attempts (two leases at once)",
                    key + ": #" + std::to_string(a.attempt_no) + " started " +
                        c.Ms(a.started_at) + " before #" + std::to_string(at[i - 1].attempt_no) +
                        " ended " + c.Ms(*at[i - 1].ended_at));
      }
      if (a.outcome == "done") ++done;
      // Suspicion counts the losses not withdrawn (their worker did not
      // come back), deaths those whose worker is known dead.
      if (a.outcome == "lost" && a.blame != "withdrawn") ++lost;
      if (a.outcome == "lost" && a.blame == "death") ++deaths;
      if (a.outcome == "lost" && a.blame.empty()) {
        c.Violation("lost attempt without blame", key + " #" + std::to_string(a.attempt_no));
      }
      if (a.outcome == "error") {
        ++errors;
        // The only errors are planned ones: exit status 3 of a numbered attempt.
        const bool planned = a.attempt_no <= def.fail_until && a.exit_code && *a.exit_code == 3;
        if (!planned) {
          c.Violation("unexpected failed attempt",
                      key + " (" + KindName(def.kind) + ") #" + std::to_string(a.attempt_no) + " on " +
                          a.worker + ": " + Quote(a.error));
        }
      }
    }
    // A task handed back over and over by one worker: the broker kept
    // leasing it to a worker that would not run it (a lease/release storm).
    {
      std::map<std::string, int> released;
      for (const auto& a : at) {
        if (a.outcome == "released" && ++released[a.worker] == kMaxReleasesByOneWorker + 1) {
          c.Violation("released again and again by one worker",
                      key + ": more than " + std::to_string(kMaxReleasesByOneWorker) + " attempts on " +
                          a.worker + " released");
        }
      }
    }
    if (static_cast<int64_t>(at.size()) != t.attempts_count) {
      c.Violation("attempt numbering", key + ": attempts_count " + std::to_string(t.attempts_count) +
                                           " but " + std::to_string(at.size()) + " attempt rows");
    }
    if (t.state == "done") {
      if (done != 1) {
        c.Violation("done task without exactly one done attempt",
                    key + " has " + std::to_string(done) + " done attempts");
      } else if (at.back().outcome != "done") {
        c.Violation("attempt after completion", key + ": attempt #" +
                                                    std::to_string(at.back().attempt_no) + " after the done one");
      }
    } else if (done != 0) {
      c.Violation("done attempt of a task not done", key + " is " + t.state + " with a done attempt");
    }
    if (t.suspicious != lost) {
      c.Violation("suspicious differs from the lost attempts",
                  key + ": suspicious " + std::to_string(t.suspicious) + ", lost attempts not withdrawn " +
                      std::to_string(lost));
    }
    if (t.deaths != deaths) {
      c.Violation("deaths differ from the lost attempts blamed as deaths",
                  key + ": deaths " + std::to_string(t.deaths) + ", lost attempts blamed as deaths " +
                      std::to_string(deaths));
    }
    if (t.errors != errors) {
      c.Violation("errors differ from the failed attempts",
                  key + ": errors " + std::to_string(t.errors) + ", error attempts " + std::to_string(errors));
    }
    if (!at.empty()) c.tally.reexecutions += static_cast<int>(at.size()) - 1;
    for (size_t i = 0; i + 1 < at.size(); ++i) c.tally.reexec_by_cause[at[i].outcome]++;

    // Dependencies: every attempt leased after all of them were done.
    bool deps_done = true;
    const StoredTask* failed_dep = nullptr;
    std::string stdin_text = t.input;
    for (int64_t d : t.deps) {
      const StoredTask* dt = c.Dep(d);
      if (dt == nullptr) continue;
      if (dt->state != "done") {
        deps_done = false;
        if (dt->state == "failed" || dt->state == "cancelled") failed_dep = dt;
        for (const auto& a : at) {
          c.Violation("started before its dependencies were done",
                      key + " #" + std::to_string(a.attempt_no) + " leased though " + dt->key + " is " + dt->state);
        }
        continue;
      }
      stdin_text += dt->result;
      const StoredAttempt* da = c.DoneAttempt(*dt);
      if (da == nullptr || !da->ended_at) continue;  // reported for the dependency
      for (const auto& a : at) {
        if (a.started_at < *da->ended_at) {
          c.Violation("started before its dependencies were done",
                      key + " #" + std::to_string(a.attempt_no) + " leased " + c.Ms(a.started_at) +
                          ", dependency " + dt->key + " done " + c.Ms(*da->ended_at));
        }
      }
    }

    // The final state each kind of task must reach.
    // Failed for its deaths: allowed + 1 of them when it failed (more may
    // be confirmed after), whatever ended its last attempt.
    const bool suspicion_failure = t.state == "failed" && t.deaths >= allowed + 1 &&
                                   t.error.find("probably kills its worker") != std::string::npos;
    if (!terminal && !c.s.at_end) {
      // On its way: judged once it ends.
    } else if (!deps_done) {
      if (t.state != "failed") {
        c.Violation("dependent of a failed task not failed",
                    key + " is " + t.state + " though a dependency is not done");
      } else if (failed_dep == nullptr) {
        c.Violation("dependent of a failed task not failed", key + " failed but no dependency failed");
      } else {
        const StoredTask* named = c.Dep(t.failed_dep);
        if (named == nullptr || (named->state != "failed" && named->state != "cancelled") ||
            t.error.find(named->key) == std::string::npos) {
          c.Violation("dependent of a failed task not failed",
                      key + ": failed_dep/error do not name a failed dependency: " + Quote(t.error));
        }
        c.tally.failed_by_dependency++;
      }
    } else if (def.kind == Kind::kPoison) {
      if (!suspicion_failure || errors != 0) {
        c.Violation("poison task not failed by suspicion",
                    key + " is " + t.state + " with deaths " + std::to_string(t.deaths) +
                        " (expected failed with " + std::to_string(allowed + 1) + "), " +
                        std::to_string(errors) + " error attempt(s); error " + Quote(t.error));
      } else {
        c.tally.failed_poison++;
      }
    } else if (def.kind == Kind::kDoomed) {
      const bool by_errors = t.state == "failed" && errors == def.retries + 1 && !at.empty() &&
                             at.back().outcome == "error";
      if (!by_errors && !suspicion_failure) {
        c.Violation("doomed task did not fail as it should",
                    key + " is " + t.state + ", " + std::to_string(errors) + " error attempt(s) for retries " +
                        std::to_string(def.retries) + ", suspicious " + std::to_string(t.suspicious));
      } else if (suspicion_failure) {
        c.tally.failed_collateral++;
      } else {
        c.tally.failed_doomed++;
      }
    } else if (t.state != "done") {
      if (suspicion_failure) {
        c.tally.failed_collateral++;
        c.Note("task failed: it was on " + std::to_string(allowed + 1) + " workers that died",
               key + " (" + KindName(def.kind) + ")");
      } else if (t.state == "failed") {
        c.Violation("task failed unexpectedly",
                    key + " (" + KindName(def.kind) + "): suspicious " + std::to_string(t.suspicious) +
                        ", errors " + std::to_string(t.errors) + ": " + Quote(t.error));
      }
    }

    // The result: recomputed from the number, the input and the results of
    // the dependencies as stored.
    if (t.state == "done") {
      const std::string expected = ResultText(Fold(def.num, stdin_text));
      if (!t.has_result || t.result != expected) {
        c.Violation("wrong result", key + ": " + Quote(t.result, 40) + ", expected " + Quote(expected, 40));
      }
    }
  }
}

}  // namespace leaseq::chaos::rules
