// Store: the results of a `results` frame, stored together. The successes
// of tasks that no task waits for (nearly all of them under load) take
// three statements for the whole frame, not three per result: a statement's
// fixed cost is most of what storing a small result costs. Every other
// result goes through Complete, one at a time, as it would alone.
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::Guarded;
using store_internal::RepeatedSql;

Status Store::CompleteAll(const std::string& worker, const std::vector<AttemptResult>& results,
                          int64_t now) {
  // kRowsPerStatement results at a time: a frame's size bounds nothing.
  for (size_t from = 0; from < results.size(); from += store_internal::kRowsPerStatement) {
    const size_t to = std::min(results.size(), from + store_internal::kRowsPerStatement);
    Status s = CompleteChunk(worker, results, from, to, now);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Store::CompleteChunk(const std::string& worker, const std::vector<AttemptResult>& results,
                            size_t from, size_t to, int64_t now) {
  return Guarded("store results", [&]() -> Status {
    struct Running {
      int64_t task_id, started_at, dependents;
      std::string queue, fn;
    };
    std::map<int64_t, Running> running;  // attempt id -> its task, if it runs on this worker
    std::vector<size_t> successes;
    for (size_t i = from; i < to; ++i) {
      if (results[i].Succeeded()) successes.push_back(i);
    }
    if (successes.size() >= 2) {
      auto& q = PreparedAllBound(RepeatedSql(
          "SELECT a.id, a.task_id, a.started_at, t.dependents, t.queue, t.fn "
          "FROM attempts a JOIN tasks t ON t.id = a.task_id "
          "WHERE a.worker = ?1 AND a.outcome = 'running' AND t.state = 'running' AND a.id IN (",
          "?", successes.size(), ")"));
      q.bindNoCopy(1, worker);
      for (size_t k = 0; k < successes.size(); ++k) {
        q.bind(static_cast<int>(k) + 2, results[successes[k]].attempt_id);
      }
      while (q.executeStep()) {
        running[q.getColumn(0).getInt64()] =
            Running{q.getColumn(1).getInt64(), q.getColumn(2).getInt64(), q.getColumn(3).getInt64(),
                    q.getColumn(4).getString(), store_internal::ColumnText(q, 5)};
      }
    }
    // Those stored together: each attempt once (a result sent twice is
    // stale the second time, as Complete would find it).
    std::vector<size_t> together, alone;
    for (size_t i = from; i < to; ++i) {
      auto it = running.find(results[i].attempt_id);
      if (it != running.end() && it->second.dependents == 0 && results[i].Succeeded()) {
        together.push_back(i);
        it->second.dependents = -1;  // taken
      } else if (it == running.end() || it->second.dependents >= 0) {
        alone.push_back(i);  // a failure, a task others wait for, or stale (Complete tells)
      }
    }
    if (!together.empty()) {
      const size_t k = together.size();
      auto& end = PreparedAllBound(RepeatedSql(
          "UPDATE attempts SET outcome = 'done', ended_at = ?1, lease_expires_at = NULL, "
          "exit_code = 0, error = NULL WHERE id IN (",
          "?", k, ")"));
      end.bind(1, now);
      for (size_t j = 0; j < k; ++j)
        end.bind(static_cast<int>(j) + 2, results[together[j]].attempt_id);
      end.exec();
      // Each task gets its own result: the rows of a VALUES list, joined
      // to tasks by id.
      auto& done = PreparedAllBound(RepeatedSql(
          "UPDATE tasks SET state = 'done', result = v.column2, error = NULL, updated_at = ?1 "
          "FROM (VALUES ",
          "(?, ?)", k, ") AS v WHERE tasks.id = v.column1"));
      done.bind(1, now);
      PassEvents* e = events();
      for (size_t j = 0; j < k; ++j) {
        const AttemptResult& r = results[together[j]];
        const Running& task = running[r.attempt_id];
        done.bind(static_cast<int>(2 * j) + 2, task.task_id);
        done.bindNoCopy(static_cast<int>(2 * j) + 3, r.stdout_bytes.data(),
                        static_cast<int>(r.stdout_bytes.size()));
        counters_.Move(task.queue, task.fn, TaskState::kRunning, TaskState::kDone);
        if (e) e->run_seconds.emplace_back(task.queue, (now - task.started_at) / 1000.0);
      }
      done.exec();
      if (e) {
        e->attempts[ToText(AttemptOutcome::kDone)] += static_cast<int64_t>(k);
        e->done += static_cast<int64_t>(k);
      }
    }
    for (size_t i : alone) {
      bool applied = false;
      Status s = Complete(worker, results[i], now, &applied);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
}

}  // namespace leaseq
