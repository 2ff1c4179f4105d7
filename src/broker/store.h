// Store: the broker's SQLite database. It owns every SQL statement and every
// state transition of tasks, attempts (leases) and workers; nothing else in
// leaseq writes SQL. Decisions about suspicion and retries come from
// lease_rules.h, which the store only applies; states and outcomes are the
// enums of task_state.h. Times are passed in by the caller (wall-clock ms).
//
// Transactions: the caller brackets a loop pass with Begin()/Commit(), so all
// changes of one pass are one group commit. Every method below must be called
// inside such a transaction, except Open and the read-only queries, which may
// be called either way. A Submit is all-or-nothing within the transaction (a
// savepoint). The task counters (task_state_counts, queue_counts) follow
// every insert, state change and delete of a task in memory and are written
// by Commit, in the same transaction (state_counters.h). Errors come back as
// Status, never as exceptions.
//
// Not thread-safe: one Store per thread (the broker loop). The HTTP thread
// (src/broker/http/) has its own Store on a read-only connection
// (OpenReadOnly), on which only the read-only queries are called.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/broker_metrics.h"
#include "broker/lease_rules.h"
#include "broker/state_counters.h"
#include "broker/store_ops.h"
#include "broker/task_state.h"
#include "common/status.h"
#include "common/task_spec.h"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace leaseq {

namespace store_internal {
struct NewTask;  // a task on its way into the tasks table (store_submit.cc)
}  // namespace store_internal

class OnlineBackup;

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

  // Opens the database: creates it from the compiled-in schema when new,
  // upgrades an older schema version in place (one transaction), refuses a
  // newer one with Status::Conflict (store_schema.h).
  static Status Open(const std::string& path, Durability durability,
                     const rules::Settings& settings, std::unique_ptr<Store>* out);
  // A second connection to a broker's database that only reads (the HTTP
  // thread's): no schema set-up, no writes; queries bracketed by
  // BeginRead()/Commit() see one snapshot. NotFound: no such file.
  static Status OpenReadOnly(const std::string& path, std::unique_ptr<Store>* out);
  // A read transaction (deferred): one consistent snapshot for what follows.
  Status BeginRead();
  // Reads the paused queues again (a reader's view of them is not kept up
  // by the broker's pause and resume).
  Status ReloadPausedQueues() { return LoadPausedQueues(); }
  // Events of each pass are recorded and published to metrics when the pass
  // commits (broker_metrics.h). Null (the default): nothing is recorded.
  void set_metrics(BrokerMetrics* metrics) { metrics_ = metrics; }
  // The schema version Open upgraded the file from; 0 when it did not.
  int migrated_from() const { return migrated_from_; }

  Status Begin();
  Status Commit();
  void Rollback();
  // SQLite checkpoints the WAL inside the COMMIT that takes it past 1,000
  // pages, as by default, but for a large WAL (a large submission: 180 MB
  // for a million tasks): that checkpoint waits for this call, which the
  // broker makes after the pass's replies, so that no reply waits for the
  // copy. A passive checkpoint; outside a transaction. (Moving every
  // checkpoint there tripled the latency bench's p99: measured, not
  // explained.)
  void CheckpointIfDue();
  // Whether the open transaction has changed the state of a task (what a
  // read in it would show before the commit makes it so).
  bool ChangedTaskStates() const { return !counters_.empty(); }

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
  // alive -> lost or gone, with its running attempts lost (with blame) or
  // released (none). *reclaimed counts them.
  Status WorkerLost(const std::string& name, int64_t now, std::string why, int* reclaimed,
                    rules::Blame blame = rules::Blame::kSuspected);
  // Blame (lease_rules.h): the suspected losses of a worker name become
  // deaths (its nanny saw it die, or a new session took the name), each
  // counted in its task's deaths, which fails a queued task past
  // allowed-failures; or they are withdrawn (its session came back: it did
  // not die), each taking back its task's suspicion. *n counts them.
  Status ConfirmDeaths(const std::string& name, int64_t now, int* n);
  Status WithdrawLosses(const std::string& name, int* n);
  // Suspected losses that ended at or before cutoff (their worker has not
  // come back since) become deaths: up to limit of them.
  Status ConfirmSilentDeaths(int64_t cutoff, int64_t now, int limit, int* n);
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
  // Leases up to n queued tasks of the worker's queues, but the paused ones,
  // to it (the paused set is in memory: no read of tasks). Those beyond
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
  // Tasks queued (due or not), as this transaction sees them: one row read.
  Status QueuedCount(int64_t* n);
  // The number of running attempts (leases) of each worker that holds any.
  Status LeasedCounts(std::map<std::string, int64_t>* counts);
  // Stores a result. *applied is false for a stale attempt (reclaimed,
  // cancelled or not that worker's): nothing changes then.
  Status Complete(const std::string& worker, const AttemptResult& r, int64_t now, bool* applied);
  // Stores the results of one `results` frame of a worker, as Complete
  // would one by one (store_results.cc): the successes of tasks that no
  // task waits for together, the others each by Complete.
  Status CompleteAll(const std::string& worker, const std::vector<AttemptResult>& results,
                     int64_t now);
  // Hands an attempt back without suspicion (drain).
  Status Release(const std::string& worker, int64_t attempt_id, int64_t now);
  // Reclaims an attempt whose worker is gone: suspicion + 1 (unless blame
  // is kNone), a death + 1 for kDeath, failed past allowed-failures deaths;
  // an attempt the worker reported as not started is released instead.
  Status Lose(int64_t attempt_id, int64_t now, const std::string& why,
              rules::Blame blame = rules::Blame::kSuspected);
  // Running attempts whose lease expired at now.
  Status ExpiredLeases(int64_t now, int limit, std::vector<LeasedAttempt>* out);
  // At start-up: no lease in the database expires before floor.
  Status HonourLeases(int64_t floor);
  // The wall clock stepped by `by` ms: the running leases, the end times of
  // the suspected losses (their age decides a death) and the retry backoffs
  // move with it; a task's not_before (a time the user gave) does not.
  Status ShiftForClockStep(int64_t by);
  // At start-up, for a step back while no broker was running (which no pass
  // could see): no retry backoff ends later than now + max_backoff_ms, no
  // suspected loss ends after now. A not_before stays.
  Status ClampFutureTimes(int64_t now, int64_t max_backoff_ms);

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
  // Every worker row: name, pid, host, state, slots, queues[], fns[], running
  // (attempts it started) and prefetched (held, not started).
  Status Workers(nlohmann::json* out);
  Status Show(const std::string& key, nlohmann::json* out);
  Status Fetch(const std::string& key, std::string* state, std::string* result);
  // Counts of the keys by state. With failures > 0, *failed also gets the
  // first `failures` of them that are failed or cancelled, in the order
  // given: {key, state, error (first line)}.
  Status States(const std::vector<std::string>& keys, nlohmann::json* counts,
                std::vector<std::string>* missing, int failures = 0,
                nlohmann::json* failed = nullptr);
  // Cancels tasks not done; running attempts to abort come back in *aborts.
  Status Cancel(const std::vector<std::string>& keys, int64_t now,
                std::vector<std::string>* changed, std::vector<LeasedAttempt>* aborts);
  // Puts failed/cancelled tasks (and those failed because of them) back.
  Status Retry(const std::vector<std::string>& keys, int64_t now,
               std::vector<std::string>* changed);

  // --- queues (store_queues.cc) ---
  // Pause: Claim leases nothing more from the queue until Resume; running
  // tasks go on. Durable (paused_queues), and kept in memory for Claim;
  // Rollback reloads it. Any name is taken (a queue with no tasks yet too).
  // *changed: false when it already was (not) paused.
  Status Pause(const std::string& queue, int64_t now, bool* changed);
  Status Resume(const std::string& queue, bool* changed);
  const std::set<std::string>& paused_queues() const { return paused_; }
  // Every queue with tasks, or paused: counts by state, queued tasks by
  // function, and (with_oldest) its oldest queued task. From counters and a
  // few index seeks per queue: no scan.
  Status QueueStatuses(std::map<std::string, QueueStatus>* out, bool with_oldest = true);

  // --- finding and changing many tasks (store_list.cc, store_bulk.cc) ---
  // At most filter.limit tasks: by state (failed, cancelled, running,
  // queued, waiting, done), then queue, then oldest change first (queued
  // ones in the order they go out). Ranges of indexes, never a scan of tasks.
  Status List(const ListFilter& filter, std::vector<TaskRow>* out);
  // One batch of `retry --state`: up to limit tasks in state (failed or
  // cancelled) of queue (empty: every queue), not changed since
  // cursor->bound, from the cursor on, go back as Retry puts them back.
  // *changed counts them; *more: call again with the cursor.
  Status RetryMatching(const std::string& state, const std::string& queue, int limit,
                       int64_t now, ScanCursor* cursor, int64_t* changed, bool* more);
  // One batch of `cancel --queue`: up to limit unfinished tasks of the queue
  // (waiting, then queued, then running) are cancelled as Cancel does.
  // *more: some may be left (call again until it is false).
  Status CancelQueue(const std::string& queue, int limit, int64_t now, int64_t* changed,
                     std::vector<LeasedAttempt>* aborts, bool* more);

  // --- retention (store_retention.cc) ---
  // One batch of purge: deletes up to limit tasks in state (a finished one)
  // of queue (empty: every queue) changed before cursor->bound, with their
  // attempts and dependency rows; the counters follow (at commit). A task
  // that a stored task runs after is kept until that one is deleted (its
  // result is that one's stdin, should it be retried). Sweeps repeat while a
  // sweep deletes something; *more: call again with the cursor.
  Status Purge(const std::string& state, const std::string& queue, int limit,
               ScanCursor* cursor, int64_t* deleted, bool* more);
  // Gives up to `pages` free pages back to the file system (files with
  // auto_vacuum = INCREMENTAL; a no-op for the others). *reclaimed: how many.
  Status ReclaimFreePages(int pages, int64_t* reclaimed = nullptr);

  // --- online backup (online_backup.h) ---
  // Starts a copy of this database to path (outside a transaction). The
  // OnlineBackup must not outlive the Store.
  Status StartBackup(const std::string& path, std::unique_ptr<OnlineBackup>* out);

 private:
  Store(std::unique_ptr<SQLite::Database> db, const rules::Settings& settings);
  // A prepared statement, cached by its SQL text's address, reset for reuse.
  SQLite::Statement& Prepared(const char* sql);
  // The same, for a hot statement whose caller binds every parameter before
  // each use: the old bindings are not cleared first. Such a caller may bind
  // its texts without a copy (bindNoCopy): the statement then points at
  // them until its next use rebinds it, and nothing reads a statement's
  // bindings between two executions.
  SQLite::Statement& PreparedAllBound(const char* sql);

  // --- submissions (store_submit.cc) ---
  // The texts and times of a task as stored (spec, cmd, not_before).
  void PrepareNewTask(int64_t now, store_internal::NewTask* row);
  // A task with `after` keys: judges an existing key first, resolves the
  // keys (state waiting, queued or failed by a dead dependency), inserts
  // the task and its task_deps rows.
  Status SubmitWithDeps(store_internal::NewTask* row, int64_t now);
  // Inserts rows[0, n): one multi-row INSERT when n is a full batch and no
  // key is taken, else one by one (InsertNewTask). On error *fault is the
  // index of the row at fault (0 when it is not one row's).
  Status InsertNewTasks(const std::vector<store_internal::NewTask>& rows, size_t n,
                        int64_t now, size_t* fault);
  // Inserts one row; a key already stored is judged by CompareExisting
  // instead. *inserted: a new row.
  Status InsertNewTask(const store_internal::NewTask& row, int64_t now, bool* inserted);
  // CompleteAll for results[from, to), at most kRowsPerStatement of them.
  Status CompleteChunk(const std::string& worker, const std::vector<AttemptResult>& results,
                       size_t from, size_t to, int64_t now);
  // Writes the transaction's counter changes (counters_) to
  // task_state_counts and queue_counts, one statement per changed row, and
  // forgets them. Throws SQLite::Exception. Commit calls it before COMMIT,
  // and so does every reader of those tables inside a pass.
  void WriteCounters();
  // Runs an UPDATE of tasks that moves rows from `from` to `to` and ends in
  // "RETURNING queue, fn", counting each row it moved.
  void ExecCountingMoves(SQLite::Statement& update, TaskState from, TaskState to);
  // Whether t.key is stored (*exists) and, if so, as the same task: its
  // spec equal to fields and its input to t.input (else Conflict).
  Status CompareExisting(const TaskSpec& t, const std::string& fields, bool* exists);
  Status LoadPausedQueues();
  // created_at of the first submitted queued task of the queue; 0: none.
  int64_t OldestQueued(const std::string& queue);
  // Up to limit ids of tasks in state, from the cursor on (see ScanCursor);
  // *end: nothing is left after them.
  Status ScanState(const std::string& state, const std::string& queue, int limit,
                   ScanCursor* cursor, std::vector<int64_t>* ids, bool* end);
  // True when the task went back in the queue (or its root cause did).
  bool RetryTask(int64_t id, int64_t now);
  void CancelTask(int64_t id, TaskState state, int64_t now,
                  std::vector<LeasedAttempt>* aborts);
  // Deletes a finished task nothing depends on; false (and nothing done)
  // when a stored task runs after it.
  bool DeleteTask(int64_t id);
  void FinishTaskDone(int64_t task_id, int64_t now);
  // The task ends failed or cancelled; its dependents fail (transitively).
  void FinishTaskFailed(int64_t task_id, TaskState state, const std::string& error,
                        int64_t now);
  void FailDependents(int64_t task_id, int64_t now);
  void RequeueDependentsOf(int64_t task_id, int64_t now);
  // Store::ConfirmDeaths' step for one attempt (store_leases.cc).
  void ConfirmDeath(int64_t attempt_id, int64_t task_id, int64_t now);
  // The losses of worker `name` still suspected (neither a death nor
  // withdrawn), by the attempts_suspected index.
  struct Suspected {
    int64_t attempt_id, task_id;
  };
  std::vector<Suspected> SuspectedOf(const std::string& name);
  // A running task whose attempt was released: true when it is poisoned
  // (rules::Poisoned), and it is failed instead of queued (store_leases.cc).
  // A failed attempt's task is decided by rules::OnAttemptFailed.
  bool FailIfPoisoned(int64_t task_id, int64_t now);
  void EndAttempt(int64_t attempt_id, AttemptOutcome outcome, int64_t now, int exit_code,
                  const std::string& error);
  std::string AssembleStdin(int64_t task_id, const std::string& input);

  std::unique_ptr<SQLite::Database> db_;
  rules::Settings settings_;
  int migrated_from_ = 0;
  std::set<std::string> paused_;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
  BrokerMetrics* metrics_ = nullptr;
  PassEvents events_;  // of the current pass, published at Commit
  // The current transaction's changes to the task counters, written at
  // Commit (state_counters.h): every insert, state change and delete of a
  // task records itself here.
  StateCounters counters_;
  // The worker whose last_seen_at this transaction wrote, and the time:
  // Renew writes it once per heartbeat. Cleared by Begin and Rollback.
  std::pair<std::string, int64_t> last_seen_written_;
  // A commit left a large WAL (SQLite's WAL hook): for CheckpointIfDue.
  bool checkpoint_due_ = false;
  // The pass's events, or null when no metrics are kept.
  PassEvents* events() { return metrics_ ? &events_ : nullptr; }
};

}  // namespace leaseq
