// Store: what users ask through leaseq-ctl (status, workers, show, result,
// wait). The transitions they request are in store_changes.cc.
#include <SQLiteCpp/SQLiteCpp.h>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::ColumnText;
using store_internal::FirstLine;
using store_internal::Guarded;

namespace {
nlohmann::json NullableInt(SQLite::Statement& q, int i) {
  return q.getColumn(i).isNull() ? nlohmann::json(nullptr) : nlohmann::json(q.getColumn(i).getInt64());
}
nlohmann::json NullableText(SQLite::Statement& q, int i) {
  return q.getColumn(i).isNull() ? nlohmann::json(nullptr) : nlohmann::json(q.getColumn(i).getString());
}
}  // namespace

Status Store::Counts(nlohmann::json* counts, nlohmann::json* workers) {
  return Guarded("status", [&]() -> Status {
    WriteCounters();  // this pass's changes first: the status is read inside it
    *counts = nlohmann::json::object();
    auto& q = Prepared("SELECT state, n FROM task_state_counts");
    while (q.executeStep()) (*counts)[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
    *workers = nlohmann::json::object();
    for (WorkerState state : kWorkerStates) (*workers)[ToText(state)] = 0;
    auto& w = Prepared("SELECT state, count(*) FROM workers GROUP BY state");
    while (w.executeStep()) (*workers)[w.getColumn(0).getString()] = w.getColumn(1).getInt64();
    return Status::Ok();
  });
}

Status Store::QueuedCount(int64_t* n) {
  return Guarded("status", [&]() -> Status {
    auto& q = Prepared("SELECT n FROM task_state_counts WHERE state = 'queued'");
    *n = q.executeStep() ? q.getColumn(0).getInt64() : 0;
    // Plus this pass's changes, not yet written (they are, once, at commit).
    static_assert(kTaskStates[1] == TaskState::kQueued);
    *n += counters_.ByState()[1];
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
    // attempts_running holds only the leases: a handful per worker.
    auto& q = Prepared(
        "SELECT w.name, w.pid, w.host, w.state, w.slots, w.queues, w.fns, "
        "(SELECT count(*) FROM attempts a WHERE a.worker = w.name AND a.outcome = 'running' "
        " AND a.unstarted = 0), "
        "(SELECT count(*) FROM attempts a WHERE a.worker = w.name AND a.outcome = 'running' "
        " AND a.unstarted <> 0), w.last_seen_at, w.started_at "
        "FROM workers w ORDER BY w.name");
    while (q.executeStep()) {
      out->push_back({{"name", q.getColumn(0).getString()},
                      {"pid", q.getColumn(1).getInt64()},
                      {"host", q.getColumn(2).getString()},
                      {"state", q.getColumn(3).getString()},
                      {"slots", q.getColumn(4).getInt64()},
                      {"queues", nlohmann::json::parse(q.getColumn(5).getString(), nullptr, false)},
                      {"fns", nlohmann::json::parse(q.getColumn(6).getString(), nullptr, false)},
                      {"running", q.getColumn(7).getInt64()},
                      {"prefetched", q.getColumn(8).getInt64()},
                      {"last_seen_at", q.getColumn(9).getInt64()},
                      {"started_at", q.getColumn(10).getInt64()}});
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
          "not_before, deaths FROM tasks WHERE key = ?");
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
              {"not_before", NullableInt(q, 16)},
              {"deaths", q.getColumn(17).getInt64()}};
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
        "SELECT attempt_no, worker, started_at, ended_at, outcome, exit_code, error, blame "
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
      if (!a.getColumn(7).isNull()) attempts.back()["blame"] = a.getColumn(7).getString();
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
                     std::vector<std::string>* missing, int failures, nlohmann::json* failed) {
  return Guarded("states", [&]() -> Status {
    *counts = nlohmann::json::object();
    if (failed) *failed = nlohmann::json::array();
    for (const auto& key : keys) {
      auto& q = Prepared("SELECT state, error FROM tasks WHERE key = ?");
      q.bind(1, key);
      if (!q.executeStep()) {
        missing->push_back(key);
        continue;
      }
      auto state = q.getColumn(0).getString();
      (*counts)[state] = counts->value(state, 0) + 1;
      const std::optional<TaskState> parsed = TaskStateFromText(state);
      if (failed && static_cast<int>(failed->size()) < failures && parsed &&
          IsFailedOrCancelled(*parsed)) {
        failed->push_back({{"key", key}, {"state", state}, {"error", FirstLine(ColumnText(q, 1))}});
      }
    }
    return Status::Ok();
  });
}

}  // namespace leaseq
