// The simulator's invariants.
#include "sim_checks.h"

#include <map>

namespace leaseq::sim {

namespace {

struct AttemptRow {
  int64_t id, task_id, attempt_no, started_at, ended_at;
  std::string key, worker, outcome, blame;
};

struct TaskRow {
  int64_t id;
  std::string state, error;
  int64_t errors, suspicious, deaths, attempts_count;
};

void Violation(std::vector<std::string>* v, const std::string& category, const std::string& detail) {
  v->push_back(category + ": " + detail);
}

}  // namespace

void CheckPass(SQLite::Database& db, std::vector<std::string>* violations) {
  SQLite::Statement q(db,
                      "SELECT task_key, count(*) FROM attempts WHERE outcome = 'running' "
                      "GROUP BY task_id HAVING count(*) > 1 LIMIT 1");
  if (q.executeStep()) {
    Violation(violations, "two leases at once",
              q.getColumn(0).getString() + " has " + q.getColumn(1).getString() + " running attempts");
  }
}

void CheckEnd(SQLite::Database& db, const Scenario& scenario, const Record& record,
              const std::set<std::string>& acked_keys, std::vector<std::string>* v) {
  std::map<std::string, TaskRow> tasks;
  {
    SQLite::Statement q(db,
                        "SELECT id, key, state, coalesce(error, ''), errors, suspicious, deaths, "
                        "attempts_count FROM tasks");
    while (q.executeStep()) {
      tasks[q.getColumn(1).getString()] = {q.getColumn(0).getInt64(), q.getColumn(2).getString(),
                                           q.getColumn(3).getString(), q.getColumn(4).getInt64(),
                                           q.getColumn(5).getInt64(), q.getColumn(6).getInt64(),
                                           q.getColumn(7).getInt64()};
    }
  }
  std::map<std::string, std::vector<AttemptRow>> attempts;  // by key, in attempt_no order
  {
    SQLite::Statement q(db,
                        "SELECT id, task_id, attempt_no, started_at, coalesce(ended_at, -1), task_key, "
                        "worker, outcome, coalesce(blame, '') FROM attempts ORDER BY task_id, attempt_no");
    while (q.executeStep()) {
      AttemptRow a{q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64(),
                   q.getColumn(3).getInt64(), q.getColumn(4).getInt64(), q.getColumn(5).getString(),
                   q.getColumn(6).getString(), q.getColumn(7).getString(), q.getColumn(8).getString()};
      attempts[a.key].push_back(a);
    }
  }
  // Who read each attempt's task message, and which processes died.
  std::map<int64_t, const Incarnation*> reader;
  for (const auto& inc : record.incarnations) {
    for (int64_t id : inc.received) reader[id] = &inc;
  }
  std::map<std::pair<std::string, int64_t>, const Execution*> completed;  // (key, attempt_no)
  for (const auto& e : record.executions) {
    if (e.ended_ms >= 0 && e.signal == 0 && e.exit_code == 0) completed[{e.key, e.attempt_no}] = &e;
  }

  // A command started well after the broker ended its attempt (released,
  // lost) ran a task that was no longer its worker's: a worker that starts
  // nothing it cannot vouch for (frozen, cut off) never does. A race of one
  // silence period is allowed: both sides count it from their last word.
  bool clock_stepped = false;
  for (const auto& f : scenario.faults) clock_stepped |= f.kind == FaultKind::kClockStep;
  if (!clock_stepped) {
    const int64_t slack = int64_t{scenario.heartbeat_ms} * scenario.liveness;
    std::map<std::pair<std::string, int64_t>, const AttemptRow*> by_number;
    for (const auto& [key, as] : attempts) {
      for (const auto& a : as) by_number[{key, a.attempt_no}] = &a;
    }
    for (const auto& e : record.executions) {
      auto it = by_number.find({e.key, e.attempt_no});
      if (it == by_number.end()) continue;
      const AttemptRow& a = *it->second;
      if ((a.outcome == "released" || a.outcome == "lost") && a.ended_at >= 0 &&
          e.started_wall_ms > a.ended_at + slack) {
        Violation(v, "execution of an attempt no longer its worker's",
                  e.key + " attempt " + std::to_string(e.attempt_no) + " started on " + e.worker + " " +
                      std::to_string(e.started_wall_ms - a.ended_at) + " ms after it was " + a.outcome);
      }
    }
  }

  for (const auto& key : acked_keys) {
    if (!tasks.count(key)) Violation(v, "acknowledged task missing", key);
  }
  for (const auto& plan : scenario.tasks) {
    auto it = tasks.find(plan.key);
    if (it == tasks.end()) continue;
    const TaskRow& t = it->second;
    const auto& as = attempts[plan.key];
    if (t.state != "done" && t.state != "failed") {
      Violation(v, "task not terminal at the end", plan.key + " is " + t.state);
      continue;
    }
    int done = 0, errors = 0, lost_kept = 0, deaths = 0, released_by_one = 0;
    std::string releaser;
    std::map<std::string, int> released;
    for (size_t i = 0; i < as.size(); ++i) {
      const AttemptRow& a = as[i];
      if (a.attempt_no != static_cast<int64_t>(i) + 1) {
        Violation(v, "attempt numbering", plan.key + " attempt " + std::to_string(a.id));
      }
      if (a.outcome == "running") Violation(v, "attempt still running at the end", plan.key);
      if (a.outcome == "done") {
        ++done;
        if (i + 1 != as.size()) Violation(v, "attempt after completion", plan.key);
        if (!completed.count({plan.key, a.attempt_no})) {
          Violation(v, "accepted result without a complete execution",
                    plan.key + " attempt " + std::to_string(a.attempt_no));
        }
      }
      if (a.outcome == "error") ++errors;
      if (a.outcome == "released" && ++released[a.worker] > released_by_one) {
        released_by_one = released[a.worker];
        releaser = a.worker;
      }
      if (a.outcome == "lost") {
        if (a.blame.empty()) Violation(v, "lost attempt without a blame", plan.key);
        if (a.blame != "withdrawn") ++lost_kept;
        if (a.blame == "death") {
          ++deaths;
          auto r = reader.find(a.id);
          // A process that exited (a drain whose goodbye never arrived) looks
          // dead to the broker once a new session takes the name; one that
          // is still running, or came back, did not die.
          if (r != reader.end() && !r->second->killed && r->second->ended_ms < 0) {
            Violation(v, "a death blamed on a worker that did not die",
                      plan.key + " attempt " + std::to_string(a.attempt_no) + " on " + a.worker +
                          " session " + r->second->session);
          }
        }
        auto r = reader.find(a.id);
        if (r != reader.end() && r->second->last_fault_ms < 0) {
          Violation(v, "lost attempt without a worker fault",
                    plan.key + " attempt " + std::to_string(a.attempt_no) + " on " + a.worker +
                        " session " + r->second->session);
        }
      }
      if (i > 0 && as[i - 1].ended_at > a.started_at && as[i - 1].ended_at >= 0) {
        // Wall times: a clock step between them makes this unreliable.
        bool stepped = false;
        for (const auto& f : scenario.faults) stepped |= f.kind == FaultKind::kClockStep;
        if (!stepped) Violation(v, "overlapping attempts (two leases at once)", plan.key);
      }
    }
    if (t.state == "done" && done != 1) {
      Violation(v, "done task without exactly one done attempt", plan.key);
    }
    if (t.errors != errors || t.suspicious != lost_kept || t.deaths != deaths) {
      Violation(v, "counters differ from the attempts",
                plan.key + ": errors " + std::to_string(t.errors) + "/" + std::to_string(errors) +
                    ", suspicious " + std::to_string(t.suspicious) + "/" + std::to_string(lost_kept) +
                    ", deaths " + std::to_string(t.deaths) + "/" + std::to_string(deaths));
    }
    if (t.attempts_count != static_cast<int64_t>(as.size())) {
      Violation(v, "attempt numbering", plan.key + ": attempts_count " + std::to_string(t.attempts_count));
    }
    if (released_by_one > 10) {
      Violation(v, "released again and again by one worker",
                plan.key + " released " + std::to_string(released_by_one) + " times by " + releaser);
    }
    const bool by_deaths = t.deaths >= scenario.allowed_failures + 1;
    switch (plan.kind) {
      case TaskKind::kOk:
        if (t.state == "failed" && !by_deaths) {
          Violation(v, "task failed unexpectedly", plan.key + ": " + t.error);
        }
        if (errors > 0) Violation(v, "unexpected failed attempt", plan.key);
        break;
      case TaskKind::kFail:
      case TaskKind::kHang:
        if (t.state != "failed" || (!by_deaths && errors != plan.retries + 1)) {
          Violation(v, "doomed task did not fail as it should",
                    plan.key + " (" + TaskKindName(plan.kind) + "): " + t.state + ", " +
                        std::to_string(errors) + " errors for " + std::to_string(plan.retries) +
                        " retries");
        }
        break;
      case TaskKind::kPoison:
        if (t.state != "failed" || !by_deaths || errors > 0) {
          Violation(v, "poison task not failed by suspicion",
                    plan.key + ": " + t.state + ", deaths " + std::to_string(t.deaths));
        }
        break;
    }
  }
  {
    SQLite::Statement q(db, "PRAGMA integrity_check");
    if (q.executeStep() && q.getColumn(0).getString() != "ok") {
      Violation(v, "PRAGMA integrity_check", q.getColumn(0).getString());
    }
  }
  {
    SQLite::Statement q(db,
                        "SELECT c.state, c.n, (SELECT count(*) FROM tasks t WHERE t.state = c.state) "
                        "FROM task_state_counts c");
    while (q.executeStep()) {
      if (q.getColumn(1).getInt64() != q.getColumn(2).getInt64()) {
        Violation(v, "task_state_counts", q.getColumn(0).getString() + " counted " +
                                              q.getColumn(1).getString() + ", rows " +
                                              q.getColumn(2).getString());
      }
    }
  }
}

}  // namespace leaseq::sim
