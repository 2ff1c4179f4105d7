// Store: the broker's SQLite database. It owns every SQL statement and every
// state transition of tasks, attempts (leases) and workers; nothing else in
// leaseq writes SQL. Decisions about suspicion and retries come from
// lease_rules.h; times are passed in by the caller (wall-clock ms).
//
// Transactions: the caller brackets a loop pass with Begin()/Commit(), so all
// changes of one pass are one group commit. Every method below must be called
// inside such a transaction, except Open and the read-only queries, which may
// be called either way. A Submit is all-or-nothing within the transaction (a
// savepoint). Errors come back as Status, never as exceptions.
//
// Not thread-safe: one Store per thread (the broker loop).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/lease_rules.h"
#include "common/status.h"
#include "common/task_spec.h"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace leaseq {

// A task leased to a worker, as the worker must receive it.
struct Assignment {
  int64_t attempt_id = 0;
  std::string key;
  int64_t attempt_no = 0;
  std::string cmd_json;  // JSON array, empty for an in-process function
  std::string fn;
  std::string stdin_bytes;  // input + the dependencies' results, in order
  bool prefetched = false;  // beyond the worker's free slots: unstarted until it says so
  std::string queue;
  int64_t timeout_ms = 0;   // the task's own time limit; 0: none (the queue's default applies)
};

struct AttemptResult {
  int64_t attempt_id = 0;
  int exit_code = -1;
  int signal = 0;
  std::string stdout_bytes;
  std::string error;  // stderr tail or the worker's own error text
  // The command could not be started (no such program, not executable):
  // another attempt would fail the same way, so the task fails at once.
  bool permanent = false;
  bool Succeeded() const { return exit_code == 0 && signal == 0 && error.empty() && !permanent; }
};

// A worker as registered.
struct WorkerRecord {
  std::string name;
  int64_t pid = 0;
  std::string host;
  std::string session;
  int64_t slots = 1;
  int64_t prefetch = 0;  // tasks it holds, not started, beyond its slots
  std::vector<std::string> queues;
  std::vector<std::string> fns;
};

// A running attempt, by its id and the worker that holds it.
struct LeasedAttempt {
  int64_t attempt_id = 0;
  std::string worker;
};

enum class Durability { kNormal, kFull };

class Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens (creating from the compiled-in schema when new) the database.
  static Status Open(const std::string& path, Durability durability,
                     const rules::Settings& settings, std::unique_ptr<Store>* out);

  Status Begin();
  Status Commit();
  void Rollback();

  // --- submissions ---
  // Stores the tasks, all or none. On error, *bad_index is the 0-based index
  // of the task at fault (or -1). An existing key with the same fields is a
  // no-op; with other fields an error.
  Status Submit(const std::vector<TaskSpec>& tasks, int64_t now, int* bad_index);
  // The same, one task at a time: next(&task, &end) yields a task, or sets
  // end after the last one, or returns an error (which refuses the
  // submission at that index). Memory does not grow with the submission.
  // *count: the tasks stored (or met before the error).
  using TaskSource = std::function<Status(TaskSpec* task, bool* end)>;
  Status Submit(const TaskSource& next, int64_t now, int* bad_index, int64_t* count);

  // --- workers ---
  // Inserts or updates the workers row (state alive). *same_session tells a
  // reconnect of the same process from a new process under that name.
  Status RegisterWorker(const WorkerRecord& w, int64_t now, bool* same_session);
  // alive -> lost or gone, with its running attempts lost (suspicion) or
  // released (none). *reclaimed counts them.
  Status WorkerLost(const std::string& name, int64_t now, std::string why, int* reclaimed);
  Status WorkerGone(const std::string& name, int64_t now, int* released);
  Status SetWorkerSlots(const std::string& name, int64_t slots);
  // name -> pid and state of a worker row; NotFound when absent.
  Status WorkerPid(const std::string& name, int64_t* pid, std::string* state);
  // name -> the worker row's process (name, pid, host, session, slots) and
  // state; NotFound when absent. Who holds a name (name_claim.h).
  Status FindWorker(const std::string& name, WorkerRecord* w, std::string* state);
  // Names of workers whose rows say alive (at start-up).
  Status AliveWorkers(std::vector<std::string>* names);

  // --- leases ---
  // Leases up to n queued tasks of the worker's queues to it. Those beyond
  // the first free_slots are prefetched: marked unstarted, so that losing
  // the worker before it starts them blames nothing.
  Status Claim(const WorkerRecord& w, int64_t n, int64_t now, std::vector<Assignment>* out,
               int64_t free_slots = INT64_MAX);
  // Renews the given attempts if they are still running under that worker,
  // noting whether the worker has started them (prefetched ones not yet);
  // the ids that are not held come back in *not_held.
  Status Renew(const std::string& worker, const std::vector<int64_t>& ids, int64_t now,
               std::vector<int64_t>* not_held, bool started = true);
  Status RunningAttemptsOf(const std::string& worker, std::vector<int64_t>* ids);
  // Stores a result. *applied is false for a stale attempt (reclaimed,
  // cancelled or not that worker's): nothing changes then.
  Status Complete(const std::string& worker, const AttemptResult& r, int64_t now, bool* applied);
  // Hands an attempt back without suspicion (drain).
  Status Release(const std::string& worker, int64_t attempt_id, int64_t now);
  // Reclaims an attempt whose worker is gone: suspicion + 1, maybe failed;
  // an attempt the worker reported as not started is released instead.
  Status Lose(int64_t attempt_id, int64_t now, const std::string& why);
  // Running attempts whose lease expired at now.
  Status ExpiredLeases(int64_t now, int limit, std::vector<LeasedAttempt>* out);
  // At start-up: no lease in the database expires before floor.
  Status HonourLeases(int64_t floor);

  // --- time ---
  // Makes up to limit queued tasks whose ready_at (not_before, or a retry's
  // backoff) has come dispatchable; *woken counts them. An index range
  // (tasks_timed): its cost follows the tasks woken, not the tasks waiting.
  Status WakeDue(int64_t now, int limit, int64_t* woken);
  // Queued tasks whose not_before is after now (an index range count over
  // the queued tasks that are not due: cost grows with them, not with the
  // rest of the tasks).
  Status DelayedCount(int64_t now, int64_t* n);

  // --- users' requests ---
  Status Counts(nlohmann::json* counts, nlohmann::json* workers);
  Status Workers(nlohmann::json* out);
  Status Show(const std::string& key, nlohmann::json* out);
  Status Fetch(const std::string& key, std::string* state, std::string* result);
  Status States(const std::vector<std::string>& keys, nlohmann::json* counts,
                std::vector<std::string>* missing);
  // Cancels tasks not done; running attempts to abort come back in *aborts.
  Status Cancel(const std::vector<std::string>& keys, int64_t now,
                std::vector<std::string>* changed, std::vector<LeasedAttempt>* aborts);
  // Puts failed/cancelled tasks (and those failed because of them) back.
  Status Retry(const std::vector<std::string>& keys, int64_t now,
               std::vector<std::string>* changed);

 private:
  Store(std::unique_ptr<SQLite::Database> db, const rules::Settings& settings);
  Status CreateOrCheckSchema();
  // A prepared statement, cached by its SQL text's address, reset for reuse.
  SQLite::Statement& Prepared(const char* sql);

  Status SubmitOne(const TaskSpec& t, int64_t now);
  void FinishTaskDone(int64_t task_id, int64_t now);
  // The task ends failed or cancelled; its dependents fail (transitively).
  void FinishTaskFailed(int64_t task_id, const std::string& state, const std::string& error,
                        int64_t now);
  void FailDependents(int64_t task_id, int64_t now);
  void RequeueDependentsOf(int64_t task_id, int64_t now);
  void EndAttempt(int64_t attempt_id, const char* outcome, int64_t now, int exit_code,
                  const std::string& error);
  std::string AssembleStdin(int64_t task_id, const std::string& input);

  std::unique_ptr<SQLite::Database> db_;
  rules::Settings settings_;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace leaseq
