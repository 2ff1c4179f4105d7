// Store: workers, leases (running attempts) and results.
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <unordered_map>

#include "broker/store.h"
#include "broker/store_internal.h"

namespace leaseq {

using store_internal::ColumnText;
using store_internal::Guarded;

Status Store::RegisterWorker(const WorkerRecord& w, int64_t now, bool* same_session) {
  return Guarded("register worker", [&]() -> Status {
    *same_session = false;
    bool known = false, returning = false;
    {
      auto& q = Prepared("SELECT session, state FROM workers WHERE name = ?");
      q.bind(1, w.name);
      if (q.executeStep()) {
        known = true;
        returning = q.getColumn(0).getString() == w.session;
        *same_session =
            returning && WorkerStateFromText(q.getColumn(1).getText()) == WorkerState::kAlive;
      }
    }
    int n = 0;
    const rules::Rejoin rejoin = rules::RejoinOf(known, returning);
    if (rejoin == rules::Rejoin::kSameProcess) {
      // The same process, back after it was declared lost (a partition, a
      // freeze): it did not die, and its losses blame nothing.
      Status s = WithdrawLosses(w.name, &n);
      if (!s.ok()) return s;
    } else if (rejoin == rules::Rejoin::kNewProcess) {
      // Another process had this name: it is dead, and what it held is lost.
      int reclaimed = 0;
      Status s = WorkerLost(w.name, now, "worker '" + w.name + "' was replaced by a new process",
                            &reclaimed, rules::BlameOf(rules::LossCause::kProcessDied));
      if (s.ok()) s = ConfirmDeaths(w.name, now, &n);
      if (!s.ok()) return s;
    }
    auto& q = Prepared(
        "INSERT INTO workers (name, pid, host, session, state, slots, queues, fns, started_at, "
        "last_seen_at) VALUES (?1, ?2, ?3, ?4, ?9, ?5, ?6, ?7, ?8, ?8) "
        "ON CONFLICT (name) DO UPDATE SET pid = ?2, host = ?3, session = ?4, state = ?9, "
        "slots = ?5, queues = ?6, fns = ?7, last_seen_at = ?8, "
        "started_at = CASE WHEN session = ?4 THEN started_at ELSE ?8 END");
    SQLite::bind(q, w.name, w.pid, w.host, w.session, w.slots, nlohmann::json(w.queues).dump(),
                 nlohmann::json(w.fns).dump(), now, ToText(WorkerState::kAlive));
    q.exec();
    return Status::Ok();
  });
}

Status Store::WorkerLost(const std::string& name, int64_t now, std::string why, int* reclaimed,
                         rules::Blame blame) {
  return Guarded("worker lost", [&]() -> Status {
    std::vector<int64_t> ids;
    Status s = RunningAttemptsOf(name, &ids);
    if (!s.ok()) return s;
    for (int64_t id : ids) {
      s = Lose(id, now, why, blame);
      if (!s.ok()) return s;
    }
    *reclaimed = static_cast<int>(ids.size());
    auto& q = Prepared(
        "UPDATE workers SET state = ?3, last_seen_at = ?1 WHERE name = ?2 AND state = ?4");
    SQLite::bind(q, now, name, ToText(WorkerState::kLost), ToText(WorkerState::kAlive));
    if (q.exec() > 0) {
      if (PassEvents* e = events()) {
        ++e->workers_lost;
        e->lost_workers.push_back(name);
      }
    }
    return Status::Ok();
  });
}

Status Store::WorkerGone(const std::string& name, int64_t now, int* released) {
  return Guarded("worker gone", [&]() -> Status {
    std::vector<int64_t> ids;
    Status s = RunningAttemptsOf(name, &ids);
    if (!s.ok()) return s;
    for (int64_t id : ids) {
      s = Release(name, id, now);
      if (!s.ok()) return s;
    }
    *released = static_cast<int>(ids.size());
    auto& q = Prepared("UPDATE workers SET state = ?3, last_seen_at = ?1 WHERE name = ?2");
    SQLite::bind(q, now, name, ToText(WorkerState::kGone));
    q.exec();
    return Status::Ok();
  });
}

Status Store::SetWorkerSlots(const std::string& name, int64_t slots) {
  return Guarded("worker slots", [&]() -> Status {
    auto& q = Prepared("UPDATE workers SET slots = ? WHERE name = ?");
    SQLite::bind(q, slots, name);
    q.exec();
    return Status::Ok();
  });
}

Status Store::WorkerPid(const std::string& name, int64_t* pid, std::string* state) {
  WorkerRecord w;
  Status s = FindWorker(name, &w, state);
  if (s.ok()) *pid = w.pid;
  return s;
}

Status Store::FindWorker(const std::string& name, WorkerRecord* w, std::string* state) {
  return Guarded("find worker", [&]() -> Status {
    auto& q = Prepared("SELECT pid, host, session, slots, state FROM workers WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return Status::NotFound("no worker named '" + name + "'");
    w->name = name;
    w->pid = q.getColumn(0).getInt64();
    w->host = q.getColumn(1).getString();
    w->session = q.getColumn(2).getString();
    w->slots = q.getColumn(3).getInt64();
    *state = q.getColumn(4).getString();
    return Status::Ok();
  });
}

Status Store::AliveWorkers(std::vector<std::string>* names) {
  return Guarded("alive workers", [&]() -> Status {
    names->clear();
    auto& q = Prepared("SELECT name FROM workers WHERE state = 'alive'");
    while (q.executeStep()) names->push_back(q.getColumn(0).getString());
    return Status::Ok();
  });
}

Status Store::Claim(const WorkerRecord& w, int64_t n, int64_t now, std::vector<Assignment>* out,
                    int64_t free_slots) {
  return Guarded("dispatch", [&]() -> Status {
    const std::string fns = nlohmann::json(w.fns).dump();
    const rules::Credit credit{n, free_slots};
    int64_t sent = 0;
    for (const auto& queue : w.queues) {
      if (n <= 0) break;
      if (paused_.count(queue) > 0) continue;
      struct Picked {
        int64_t id;
        Assignment a;
        std::string input;
        bool has_deps;
      };
      std::vector<Picked> picked;
      {
        // Read the batch first, then mark it by its ids (below). One UPDATE
        // over "id IN (SELECT ... LIMIT n) RETURNING ..." did both but cost
        // more: SQLite materializes the subquery and the RETURNING rows in
        // temporary B-trees, each with its own page cache. The partial index
        // tasks_dispatch yields this queue's due tasks in priority order (a
        // task delayed or in retry backoff is not in it: see WakeDue).
        auto& q = Prepared(
            "SELECT id, key, cmd, fn, input, attempts_count, dep_count, timeout_ms, created_at"
            " FROM tasks INDEXED BY tasks_dispatch "
            "WHERE state = 'queued' AND ready_at = 0 AND queue = ?1 "
            "AND (fn IS NULL OR fn IN (SELECT value FROM json_each(?2))) "
            "ORDER BY priority DESC, id LIMIT ?3");
        SQLite::bind(q, queue, fns, n);
        while (q.executeStep()) {
          Picked p;
          p.id = q.getColumn(0).getInt64();
          p.a.key = q.getColumn(1).getString();
          p.a.cmd_json = ColumnText(q, 2);
          p.a.fn = ColumnText(q, 3);
          const auto& in = q.getColumn(4);
          p.input.assign(static_cast<const char*>(in.getBlob()), in.getBytes());
          p.a.attempt_no = q.getColumn(5).getInt64() + 1;
          p.has_deps = q.getColumn(6).getInt64() > 0;
          p.a.timeout_ms = q.getColumn(7).isNull() ? 0 : q.getColumn(7).getInt64();
          p.a.queue = queue;
          // Queue wait: from submission to the start of the first attempt.
          if (PassEvents* e = events(); e && p.a.attempt_no == 1) {
            e->wait_seconds.emplace_back(queue, (now - q.getColumn(8).getInt64()) / 1000.0);
          }
          picked.push_back(std::move(p));
        }
      }
      // Each chunk of the batch is marked running by one UPDATE and its
      // attempts inserted by one INSERT: a statement's fixed cost once per
      // chunk, not per task (store_submit.cc measured it).
      const int64_t lease_expires = rules::LeaseExpiry(settings_, now);
      for (size_t from = 0; from < picked.size(); from += store_internal::kRowsPerStatement) {
        const size_t k = std::min(store_internal::kRowsPerStatement, picked.size() - from);
        auto& u = PreparedAllBound(store_internal::RepeatedSql(
            "UPDATE tasks SET state = 'running', attempts_count = attempts_count + 1, "
            "updated_at = ?1 WHERE id IN (",
            "?", k, ")"));
        u.bind(1, now);
        for (size_t i = 0; i < k; ++i) u.bind(static_cast<int>(i) + 2, picked[from + i].id);
        u.exec();
        auto& ins = PreparedAllBound(store_internal::RepeatedSql(
            "INSERT INTO attempts (task_id, task_key, attempt_no, worker, started_at, outcome, "
            "lease_expires_at, unstarted) VALUES ",
            "(?, ?, ?, ?, ?, 'running', ?, ?)", k, ""));
        for (size_t i = 0; i < k; ++i) {
          Picked& p = picked[from + i];
          p.a.prefetched = rules::IsPrefetch(credit, sent++);
          const int at = static_cast<int>(i) * 7;
          ins.bind(at + 1, p.id);
          ins.bindNoCopy(at + 2, p.a.key);
          ins.bind(at + 3, p.a.attempt_no);
          ins.bindNoCopy(at + 4, w.name);
          ins.bind(at + 5, now);
          ins.bind(at + 6, lease_expires);
          ins.bind(at + 7, p.a.prefetched ? 1 : 0);
        }
        ins.exec();
        // Rows inserted by one statement take consecutive rowids (each the
        // largest so far + 1: attempts has no AUTOINCREMENT and its ids are
        // nowhere near 2^63), so the last one gives them all.
        const int64_t first_id = db_->getLastInsertRowid() - static_cast<int64_t>(k) + 1;
        for (size_t i = 0; i < k; ++i) picked[from + i].a.attempt_id = first_id + static_cast<int64_t>(i);
      }
      for (Picked& p : picked) {
        counters_.Move(queue, p.a.fn, TaskState::kQueued, TaskState::kRunning);
        p.a.stdin_bytes = p.has_deps ? AssembleStdin(p.id, p.input) : std::move(p.input);
        out->push_back(std::move(p.a));
        --n;
      }
    }
    return Status::Ok();
  });
}

Status Store::Renew(const std::string& worker, const std::vector<int64_t>& ids, int64_t now,
                    std::vector<int64_t>* not_held, bool started) {
  return Guarded("renew leases", [&]() -> Status {
    if (!ids.empty()) {
      // What the worker holds, in one read of the small attempts_running
      // index; a row is written only when its lease is due for renewal or
      // the worker started it since it last said so.
      struct Held {
        bool unstarted;
        int64_t expires;
      };
      std::unordered_map<int64_t, Held> held;
      {
        auto& q = Prepared(
            "SELECT id, unstarted, lease_expires_at FROM attempts INDEXED BY attempts_running "
            "WHERE worker = ? AND outcome = 'running'");
        q.bind(1, worker);
        while (q.executeStep()) {
          held[q.getColumn(0).getInt64()] = {q.getColumn(1).getInt64() != 0,
                                             q.getColumn(2).getInt64()};
        }
      }
      for (int64_t id : ids) {
        const auto it = held.find(id);
        if (it == held.end()) {
          not_held->push_back(id);
          continue;
        }
        if (it->second.unstarted != !started ||
            rules::LeaseDueForRenewal(settings_, it->second.expires, now)) {
          auto& u = Prepared("UPDATE attempts SET lease_expires_at = ?, unstarted = ? WHERE id = ?");
          SQLite::bind(u, rules::LeaseExpiry(settings_, now), started ? 0 : 1, id);
          u.exec();
        }
      }
    }
    // A heartbeat renews its running and its queued attempts in two calls:
    // the worker's row is written once.
    if (last_seen_written_.first != worker || last_seen_written_.second != now) {
      auto& w = Prepared("UPDATE workers SET last_seen_at = ? WHERE name = ?");
      SQLite::bind(w, now, worker);
      w.exec();
      last_seen_written_ = {worker, now};
    }
    return Status::Ok();
  });
}

Status Store::RunningAttemptsOf(const std::string& worker, std::vector<int64_t>* ids) {
  return Guarded("running attempts", [&]() -> Status {
    ids->clear();
    auto& q = Prepared("SELECT id FROM attempts WHERE worker = ? AND outcome = 'running'");
    q.bind(1, worker);
    while (q.executeStep()) ids->push_back(q.getColumn(0).getInt64());
    return Status::Ok();
  });
}

Status Store::LeasedCounts(std::map<std::string, int64_t>* counts) {
  return Guarded("leased counts", [&]() -> Status {
    counts->clear();
    // attempts_running holds the running attempts only, ordered by worker.
    auto& q = Prepared(
        "SELECT worker, count(*) FROM attempts INDEXED BY attempts_running "
        "WHERE outcome = 'running' GROUP BY worker");
    while (q.executeStep()) (*counts)[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
    return Status::Ok();
  });
}

Status Store::Complete(const std::string& worker, const AttemptResult& r, int64_t now,
                       bool* applied) {
  return Guarded("store result", [&]() -> Status {
    *applied = false;
    int64_t task_id = 0, errors = 0, retries = 0, dependents = 0, started_at = 0, deaths = 0;
    std::string queue, key, fn;
    {
      auto& q = Prepared(
          "SELECT a.task_id, t.errors, t.retries, t.dependents, a.started_at, t.queue, t.key, "
          "t.deaths, t.fn "
          "FROM attempts a "
          "JOIN tasks t ON t.id = a.task_id "
          "WHERE a.id = ? AND a.worker = ? AND a.outcome = 'running' AND t.state = 'running'");
      SQLite::bind(q, r.attempt_id, worker);
      if (!q.executeStep()) return Status::Ok();  // stale: reclaimed, cancelled, not its own
      task_id = q.getColumn(0).getInt64();
      errors = q.getColumn(1).getInt64();
      retries = q.getColumn(2).getInt64();
      dependents = q.getColumn(3).getInt64();
      started_at = q.getColumn(4).getInt64();
      queue = q.getColumn(5).getString();
      key = q.getColumn(6).getString();
      deaths = q.getColumn(7).getInt64();
      fn = ColumnText(q, 8);
    }
    *applied = true;
    PassEvents* e = events();
    if (e) e->run_seconds.emplace_back(queue, (now - started_at) / 1000.0);
    if (r.Succeeded()) {
      EndAttempt(r.attempt_id, AttemptOutcome::kDone, now, r.exit_code, "");
      auto& u = Prepared(
          "UPDATE tasks SET state = ?4, result = ?1, error = NULL, updated_at = ?2 WHERE id = ?3");
      u.bind(1, r.stdout_bytes.data(), static_cast<int>(r.stdout_bytes.size()));
      u.bind(2, now);
      u.bind(3, task_id);
      u.bind(4, ToText(TaskState::kDone));
      u.exec();
      counters_.Move(queue, fn, TaskState::kRunning, TaskState::kDone);
      if (dependents > 0) FinishTaskDone(task_id, now);
      if (e) ++e->done;
      return Status::Ok();
    }
    std::string error = r.error;
    if (r.permanent) {
      // "no such command: foo": the worker's text says it all.
    } else if (r.signal != 0) {
      error = "killed by signal " + std::to_string(r.signal) + (error.empty() ? "" : ": " + error);
    } else if (r.exit_code > 0) {
      error = "exit status " + std::to_string(r.exit_code) + (error.empty() ? "" : ": " + error);
    }
    if (error.empty()) error = "the attempt failed (the worker gave no reason)";
    EndAttempt(r.attempt_id, AttemptOutcome::kError, now, r.signal != 0 ? -1 : r.exit_code, error);
    rules::ErrorDecision d =
        rules::OnAttemptFailed(settings_, errors, retries, deaths, now, r.permanent);
    if (d.poisoned) {
      auto& u = Prepared("UPDATE tasks SET errors = ? WHERE id = ?");
      SQLite::bind(u, d.errors, task_id);
      u.exec();
      FinishTaskFailed(task_id, TaskState::kFailed, d.error, now);
    } else if (d.retry) {
      auto& u = Prepared(
          "UPDATE tasks SET state = ?6, errors = ?1, error = ?2, ready_at = ?3, updated_at = ?4 "
          "WHERE id = ?5");
      SQLite::bind(u, d.errors, error, d.ready_at, now, task_id, ToText(TaskState::kQueued));
      u.exec();
      counters_.Move(queue, fn, TaskState::kRunning, TaskState::kQueued);
      if (e) ++e->retried_auto;
    } else {
      auto& u = Prepared("UPDATE tasks SET errors = ? WHERE id = ?");
      SQLite::bind(u, d.errors, task_id);
      u.exec();
      FinishTaskFailed(task_id, TaskState::kFailed, error, now);
      if (e) e->failures.push_back({now, key, worker, store_internal::FirstLine(error)});
    }
    return Status::Ok();
  });
}

Status Store::Release(const std::string& worker, int64_t attempt_id, int64_t now) {
  return Guarded("release", [&]() -> Status {
    auto& q = Prepared(
        "SELECT task_id FROM attempts WHERE id = ? AND worker = ? AND outcome = 'running'");
    SQLite::bind(q, attempt_id, worker);
    if (!q.executeStep()) return Status::Ok();
    const int64_t task_id = q.getColumn(0).getInt64();
    EndAttempt(attempt_id, AttemptOutcome::kReleased, now, INT32_MIN, "");
    if (FailIfPoisoned(task_id, now)) return Status::Ok();
    auto& u = Prepared(
        "UPDATE tasks SET state = ?3, updated_at = ?1 WHERE id = ?2 AND state = ?4 "
        "RETURNING queue, fn");
    SQLite::bind(u, now, task_id, ToText(TaskState::kQueued), ToText(TaskState::kRunning));
    ExecCountingMoves(u, TaskState::kRunning, TaskState::kQueued);
    return Status::Ok();
  });
}

bool Store::FailIfPoisoned(int64_t task_id, int64_t now) {
  auto& q = Prepared("SELECT deaths FROM tasks WHERE id = ? AND state = ?");
  SQLite::bind(q, task_id, ToText(TaskState::kRunning));
  if (!q.executeStep()) return false;
  const int64_t deaths = q.getColumn(0).getInt64();
  q.reset();
  if (!rules::Poisoned(settings_, deaths)) return false;
  FinishTaskFailed(task_id, TaskState::kFailed, rules::PoisonError(settings_, deaths), now);
  return true;
}

Status Store::Lose(int64_t attempt_id, int64_t now, const std::string& why, rules::Blame blame) {
  return Guarded("reclaim", [&]() -> Status {
    int64_t task_id = 0, suspicious = 0, deaths = 0;
    std::string worker, key;
    {
      auto& q = Prepared(
          "SELECT a.task_id, t.suspicious, a.unstarted, a.worker, t.key, t.deaths FROM attempts a "
          "JOIN tasks t ON t.id = a.task_id WHERE a.id = ? AND a.outcome = 'running'");
      q.bind(1, attempt_id);
      if (!q.executeStep()) return Status::Ok();
      task_id = q.getColumn(0).getInt64();
      suspicious = q.getColumn(1).getInt64();
      worker = q.getColumn(3).getString();
      key = q.getColumn(4).getString();
      deaths = q.getColumn(5).getInt64();
      if (PassEvents* e = events()) ++e->leases_reclaimed;
      // Only what ran is blamed.
      const bool started = q.getColumn(2).getInt64() == 0;
      if (rules::ReclaimedOutcome(started) == AttemptOutcome::kReleased) {
        return Release(worker, attempt_id, now);
      }
    }
    EndAttempt(attempt_id, AttemptOutcome::kLost, now, INT32_MIN, why);
    {
      auto& b = Prepared("UPDATE attempts SET blame = ? WHERE id = ?");
      SQLite::bind(b, ToText(blame), attempt_id);
      b.exec();
    }
    rules::LossDecision d = rules::OnWorkerLost(settings_, suspicious, deaths, blame);
    auto& u = Prepared(
        "UPDATE tasks SET suspicious = ?1, deaths = ?2, state = ?5, updated_at = ?3 "
        "WHERE id = ?4 AND state = ?6 RETURNING queue, fn");
    SQLite::bind(u, d.suspicious, d.deaths, now, task_id, ToText(TaskState::kQueued),
                 ToText(TaskState::kRunning));
    ExecCountingMoves(u, TaskState::kRunning, TaskState::kQueued);
    if (d.failed) FinishTaskFailed(task_id, TaskState::kFailed, d.error, now);
    if (PassEvents* e = events()) {
      e->losses.push_back({now, key, worker, why});
      if (d.failed) {
        ++e->failed_by_suspicion;
        e->failures.push_back({now, key, worker, store_internal::FirstLine(d.error)});
      }
    }
    return Status::Ok();
  });
}

// One suspected loss becomes a death: the task's deaths + 1, and a queued
// task past allowed-failures is failed (a running one is decided when that
// attempt ends: Complete, Release, Lose).
void Store::ConfirmDeath(int64_t attempt_id, int64_t task_id, int64_t now) {
  auto& b = Prepared("UPDATE attempts SET blame = ?2 WHERE id = ?1 AND blame = ?3");
  SQLite::bind(b, attempt_id, ToText(Blame::kDeath), ToText(Blame::kSuspected));
  if (b.exec() == 0) return;
  auto& q = Prepared("SELECT suspicious, deaths, state FROM tasks WHERE id = ?");
  q.bind(1, task_id);
  if (!q.executeStep()) return;
  const int64_t suspicious = q.getColumn(0).getInt64();
  const int64_t deaths = q.getColumn(1).getInt64();
  const bool queued = TaskStateFromText(q.getColumn(2).getText()) == TaskState::kQueued;
  q.reset();
  rules::LossDecision d = rules::OnDeathConfirmed(settings_, suspicious, deaths, queued);
  auto& u = Prepared("UPDATE tasks SET deaths = ? WHERE id = ?");
  SQLite::bind(u, d.deaths, task_id);
  u.exec();
  if (d.failed) FinishTaskFailed(task_id, TaskState::kFailed, d.error, now);
}

std::vector<Store::Suspected> Store::SuspectedOf(const std::string& name) {
  std::vector<Suspected> found;
  auto& q = Prepared(
      "SELECT id, task_id FROM attempts INDEXED BY attempts_suspected "
      "WHERE worker = ? AND blame = 'suspected'");
  q.bind(1, name);
  while (q.executeStep()) found.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64()});
  q.reset();
  return found;
}

Status Store::ConfirmDeaths(const std::string& name, int64_t now, int* n) {
  return Guarded("confirm deaths", [&]() -> Status {
    std::vector<Suspected> found = SuspectedOf(name);
    for (const auto& f : found) ConfirmDeath(f.attempt_id, f.task_id, now);
    *n = static_cast<int>(found.size());
    return Status::Ok();
  });
}

Status Store::ConfirmSilentDeaths(int64_t cutoff, int64_t now, int limit, int* n) {
  return Guarded("confirm deaths", [&]() -> Status {
    std::vector<Suspected> found;
    {
      auto& q = Prepared(
          "SELECT id, task_id FROM attempts INDEXED BY attempts_suspected "
          "WHERE blame = 'suspected' AND ended_at <= ? LIMIT ?");
      SQLite::bind(q, cutoff, limit);
      while (q.executeStep()) found.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64()});
    }
    for (const auto& f : found) ConfirmDeath(f.attempt_id, f.task_id, now);
    *n = static_cast<int>(found.size());
    return Status::Ok();
  });
}

Status Store::WithdrawLosses(const std::string& name, int* n) {
  return Guarded("withdraw losses", [&]() -> Status {
    std::vector<Suspected> found = SuspectedOf(name);
    for (const auto& f : found) {
      auto& b = Prepared("UPDATE attempts SET blame = ? WHERE id = ?");
      SQLite::bind(b, ToText(Blame::kNone), f.attempt_id);
      b.exec();
      auto& q = Prepared("SELECT suspicious FROM tasks WHERE id = ?");
      q.bind(1, f.task_id);
      if (!q.executeStep()) continue;
      const int64_t suspicious = rules::OnLossWithdrawn(q.getColumn(0).getInt64());
      q.reset();
      auto& u = Prepared("UPDATE tasks SET suspicious = ? WHERE id = ?");
      SQLite::bind(u, suspicious, f.task_id);
      u.exec();
    }
    *n = static_cast<int>(found.size());
    return Status::Ok();
  });
}

Status Store::ExpiredLeases(int64_t now, int limit, std::vector<LeasedAttempt>* out) {
  return Guarded("expired leases", [&]() -> Status {
    out->clear();
    auto& q = Prepared(
        "SELECT id, worker FROM attempts INDEXED BY attempts_running "
        "WHERE outcome = 'running' AND lease_expires_at <= ? LIMIT ?");
    SQLite::bind(q, now, limit);
    while (q.executeStep()) out->push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString()});
    return Status::Ok();
  });
}

Status Store::WakeDue(int64_t now, int limit, int64_t* woken) {
  return Guarded("wake delayed tasks", [&]() -> Status {
    auto& q = Prepared(
        "UPDATE tasks SET ready_at = 0 WHERE id IN (SELECT id FROM tasks INDEXED BY tasks_timed "
        "WHERE state = 'queued' AND ready_at > 0 AND ready_at <= ? ORDER BY ready_at LIMIT ?)");
    SQLite::bind(q, now, limit);
    *woken = q.exec();
    return Status::Ok();
  });
}

Status Store::ShiftForClockStep(int64_t by) {
  return Guarded("clock step", [&]() -> Status {
    auto& q = Prepared(
        "UPDATE attempts INDEXED BY attempts_running SET lease_expires_at = lease_expires_at + ? "
        "WHERE outcome = 'running'");
    q.bind(1, by);
    q.exec();
    auto& s = Prepared(
        "UPDATE attempts INDEXED BY attempts_suspected SET ended_at = ended_at + ? "
        "WHERE blame = 'suspected'");
    s.bind(1, by);
    s.exec();
    // A retry's backoff counts from the failure; a not_before (ready_at =
    // not_before) is the user's wall-clock time and stays.
    auto& r = Prepared(
        "UPDATE tasks INDEXED BY tasks_timed SET ready_at = max(ready_at + ?, 1) "
        "WHERE state = 'queued' AND ready_at > 0 AND (not_before IS NULL OR ready_at <> not_before)");
    r.bind(1, by);
    r.exec();
    return Status::Ok();
  });
}

Status Store::ClampFutureTimes(int64_t now, int64_t max_backoff_ms) {
  return Guarded("clamp future times", [&]() -> Status {
    auto& r = Prepared(
        "UPDATE tasks INDEXED BY tasks_timed SET ready_at = ?1 + ?2 "
        "WHERE state = 'queued' AND ready_at > 0 AND ready_at > ?1 + ?2 "
        "AND (not_before IS NULL OR ready_at <> not_before)");
    SQLite::bind(r, now, max_backoff_ms);
    r.exec();
    auto& s = Prepared(
        "UPDATE attempts INDEXED BY attempts_suspected SET ended_at = ? "
        "WHERE blame = 'suspected' AND ended_at > ?");
    SQLite::bind(s, now, now);
    s.exec();
    return Status::Ok();
  });
}

Status Store::HonourLeases(int64_t floor) {
  return Guarded("honour leases", [&]() -> Status {
    auto& q = Prepared(
        "UPDATE attempts INDEXED BY attempts_running SET lease_expires_at = ? "
        "WHERE outcome = 'running' AND lease_expires_at < ?");
    SQLite::bind(q, floor, floor);
    q.exec();
    return Status::Ok();
  });
}

}  // namespace leaseq
