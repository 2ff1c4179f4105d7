// Store: what users ask through leaseq-ctl (status, show, result, wait) and
// the two transitions they request (cancel, retry).
#include <SQLiteCpp/SQLiteCpp.h>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::ColumnText;
using store_internal::Guarded;

namespace {
// Every key must name a task before anything changes: a request with an
// unknown key is refused whole.
Status RequireKeys(SQLite::Statement& q, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    q.reset();
    q.clearBindings();
    q.bind(1, key);
    if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
  }
  return Status::Ok();
}

nlohmann::json NullableInt(SQLite::Statement& q, int i) {
  return q.getColumn(i).isNull() ? nlohmann::json(nullptr) : nlohmann::json(q.getColumn(i).getInt64());
}
nlohmann::json NullableText(SQLite::Statement& q, int i) {
  return q.getColumn(i).isNull() ? nlohmann::json(nullptr) : nlohmann::json(q.getColumn(i).getString());
}
}  // namespace

Status Store::Counts(nlohmann::json* counts, nlohmann::json* workers) {
  return Guarded("status", [&]() -> Status {
    *counts = nlohmann::json::object();
    auto& q = Prepared("SELECT state, n FROM task_state_counts");
    while (q.executeStep()) (*counts)[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
    *workers = {{"alive", 0}, {"lost", 0}, {"gone", 0}};
    auto& w = Prepared("SELECT state, count(*) FROM workers GROUP BY state");
    while (w.executeStep()) (*workers)[w.getColumn(0).getString()] = w.getColumn(1).getInt64();
    return Status::Ok();
  });
}

Status Store::DelayedCount(int64_t now, int64_t* n) {
  return Guarded("status", [&]() -> Status {
    // tasks_timed holds both columns: the count reads the index alone.
    auto& q = Prepared(
        "SELECT count(*) FROM tasks INDEXED BY tasks_timed "
        "WHERE state = 'queued' AND ready_at > 0 AND not_before > ?");
    q.bind(1, now);
    *n = q.executeStep() ? q.getColumn(0).getInt64() : 0;
    return Status::Ok();
  });
}

Status Store::Workers(nlohmann::json* out) {
  return Guarded("workers", [&]() -> Status {
    *out = nlohmann::json::array();
    auto& q = Prepared(
        "SELECT w.name, w.pid, w.host, w.state, w.slots, "
        "(SELECT count(*) FROM attempts a WHERE a.worker = w.name AND a.outcome = 'running') "
        "FROM workers w ORDER BY w.name");
    while (q.executeStep()) {
      out->push_back({{"name", q.getColumn(0).getString()},
                      {"pid", q.getColumn(1).getInt64()},
                      {"host", q.getColumn(2).getString()},
                      {"state", q.getColumn(3).getString()},
                      {"slots", q.getColumn(4).getInt64()},
                      {"running", q.getColumn(5).getInt64()}});
    }
    return Status::Ok();
  });
}

Status Store::Show(const std::string& key, nlohmann::json* out) {
  return Guarded("show", [&]() -> Status {
    int64_t id = 0;
    {
      auto& q = Prepared(
          "SELECT id, key, state, cmd, fn, queue, priority, retries, errors, suspicious, "
          "unfinished_deps, error, created_at, updated_at, length(result), timeout_ms, "
          "not_before FROM tasks WHERE key = ?");
      q.bind(1, key);
      if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
      id = q.getColumn(0).getInt64();
      nlohmann::json cmd = q.getColumn(3).isNull()
                               ? nlohmann::json(nullptr)
                               : nlohmann::json::parse(q.getColumn(3).getString(), nullptr, false);
      *out = {{"key", q.getColumn(1).getString()},  {"state", q.getColumn(2).getString()},
              {"cmd", cmd},                         {"fn", NullableText(q, 4)},
              {"queue", q.getColumn(5).getString()}, {"priority", q.getColumn(6).getInt64()},
              {"retries", q.getColumn(7).getInt64()}, {"errors", q.getColumn(8).getInt64()},
              {"suspicious", q.getColumn(9).getInt64()},
              {"unfinished_deps", q.getColumn(10).getInt64()},
              {"error", NullableText(q, 11)},       {"created_at", q.getColumn(12).getInt64()},
              {"updated_at", q.getColumn(13).getInt64()},
              {"result_bytes", NullableInt(q, 14)},
              {"timeout_ms", NullableInt(q, 15)},
              {"not_before", NullableInt(q, 16)}};
    }
    nlohmann::json after = nlohmann::json::array();
    auto& d = Prepared(
        "SELECT t.key FROM task_deps d JOIN tasks t ON t.id = d.dep_id WHERE d.task_id = ? "
        "ORDER BY d.pos");
    d.bind(1, id);
    while (d.executeStep()) after.push_back(d.getColumn(0).getString());
    (*out)["after"] = after;
    nlohmann::json attempts = nlohmann::json::array();
    auto& a = Prepared(
        "SELECT attempt_no, worker, started_at, ended_at, outcome, exit_code, error "
        "FROM attempts WHERE task_id = ? ORDER BY id");
    a.bind(1, id);
    while (a.executeStep()) {
      attempts.push_back({{"attempt", a.getColumn(0).getInt64()},
                          {"worker", a.getColumn(1).getString()},
                          {"started_at", a.getColumn(2).getInt64()},
                          {"ended_at", NullableInt(a, 3)},
                          {"outcome", a.getColumn(4).getString()},
                          {"exit_code", NullableInt(a, 5)},
                          {"error", NullableText(a, 6)}});
    }
    (*out)["attempts"] = attempts;
    return Status::Ok();
  });
}

Status Store::Fetch(const std::string& key, std::string* state, std::string* result) {
  return Guarded("result", [&]() -> Status {
    auto& q = Prepared("SELECT state, result FROM tasks WHERE key = ?");
    q.bind(1, key);
    if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
    *state = q.getColumn(0).getString();
    const auto& r = q.getColumn(1);
    result->clear();
    if (!r.isNull()) result->assign(static_cast<const char*>(r.getBlob()), r.getBytes());
    return Status::Ok();
  });
}

Status Store::States(const std::vector<std::string>& keys, nlohmann::json* counts,
                     std::vector<std::string>* missing) {
  return Guarded("states", [&]() -> Status {
    *counts = nlohmann::json::object();
    for (const auto& key : keys) {
      auto& q = Prepared("SELECT state FROM tasks WHERE key = ?");
      q.bind(1, key);
      if (!q.executeStep()) {
        missing->push_back(key);
        continue;
      }
      auto state = q.getColumn(0).getString();
      (*counts)[state] = counts->value(state, 0) + 1;
    }
    return Status::Ok();
  });
}

Status Store::Cancel(const std::vector<std::string>& keys, int64_t now,
                     std::vector<std::string>* changed, std::vector<LeasedAttempt>* aborts) {
  return Guarded("cancel", [&]() -> Status {
    Status known = RequireKeys(Prepared("SELECT 1 FROM tasks WHERE key = ?"), keys);
    if (!known.ok()) return known;
    for (const auto& key : keys) {
      int64_t id = 0;
      std::string state;
      {
        auto& q = Prepared("SELECT id, state FROM tasks WHERE key = ?");
        q.bind(1, key);
        if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
        id = q.getColumn(0).getInt64();
        state = q.getColumn(1).getString();
      }
      if (state == "done" || state == "cancelled") continue;
      if (state == "running") {
        auto& a = Prepared(
            "SELECT id, worker FROM attempts WHERE task_id = ? AND outcome = 'running'");
        a.bind(1, id);
        std::vector<LeasedAttempt> running;
        while (a.executeStep()) running.push_back({a.getColumn(0).getInt64(), a.getColumn(1).getString()});
        for (const auto& r : running) {
          EndAttempt(r.attempt_id, "error", now, INT32_MIN, "cancelled");
          aborts->push_back(r);
        }
      }
      FinishTaskFailed(id, "cancelled", "cancelled", now);
      changed->push_back(key);
    }
    return Status::Ok();
  });
}

Status Store::Retry(const std::vector<std::string>& keys, int64_t now,
                    std::vector<std::string>* changed) {
  return Guarded("retry", [&]() -> Status {
    Status known = RequireKeys(Prepared("SELECT 1 FROM tasks WHERE key = ?"), keys);
    if (!known.ok()) return known;
    for (const auto& key : keys) {
      int64_t id = 0;
      std::string state;
      int64_t failed_dep = 0;
      {
        auto& q = Prepared("SELECT id, state, failed_dep FROM tasks WHERE key = ?");
        q.bind(1, key);
        if (!q.executeStep()) return Status::NotFound("no task with key '" + key + "'");
        id = q.getColumn(0).getInt64();
        state = q.getColumn(1).getString();
        failed_dep = q.getColumn(2).isNull() ? 0 : q.getColumn(2).getInt64();
      }
      if (state != "failed" && state != "cancelled") continue;
      // A task failed by its dependency is retried by retrying the root cause
      // (the first task up the chain that failed by itself).
      while (failed_dep != 0) {
        auto& up = Prepared("SELECT id, state, failed_dep FROM tasks WHERE id = ?");
        up.bind(1, failed_dep);
        if (!up.executeStep()) break;
        const std::string up_state = up.getColumn(1).getString();
        if (up_state != "failed" && up_state != "cancelled") break;
        id = up.getColumn(0).getInt64();
        failed_dep = up.getColumn(2).isNull() ? 0 : up.getColumn(2).getInt64();
      }
      auto& u = Prepared(
          "UPDATE tasks SET state = CASE WHEN unfinished_deps > 0 THEN 'waiting' ELSE 'queued' END, "
          "suspicious = 0, errors = 0, error = NULL, failed_dep = NULL, "
          "ready_at = CASE WHEN not_before > ?1 THEN not_before ELSE 0 END, "
          "updated_at = ?1 WHERE id = ?2 AND state IN ('failed', 'cancelled')");
      u.bind(1, now);
      u.bind(2, id);
      if (u.exec() == 0) continue;
      RequeueDependentsOf(id, now);
      changed->push_back(key);
    }
    return Status::Ok();
  });
}

}  // namespace leaseq
