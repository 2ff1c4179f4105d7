// WorkerCore: the worker side of docs/protocol.md with no I/O of its own. It
// talks to the broker through a Link (link.h), runs commands through a
// ProcessStarter (task_process.h), is told the time (steady ms) on every
// call and the signals as calls; it never reads a clock, opens a socket,
// forks or installs a handler. The real worker (worker_loop.h) wraps it in
// a poll loop; a simulator runs many cores in one process on simulated time.
//
// Usage (a simulator; `link` and `procs` are its own Link and
// ProcessStarter, `t` its simulated steady time; ReconnectTimers,
// reconnect_timers.h, gives a simulated link BrokerLink's silence and
// backoff rules; worker_core_test.cc has a fake Link and fake processes):
//
//   WorkerOptions o;
//   o.name = "w1"; o.session = "s1"; o.slots = 2;  // a fixed session: deterministic
//   WorkerCore core(o, link, procs, /*host=*/"sim", /*pid=*/1001);
//   core.set_log([&](const std::string& line) { trace.Add(t, "w1", line); });
//   Status s = core.Start(t);          // opens the link, sends register
//   ...                                // deliver messages into link
//   core.Step(t);                      // reads them, pumps processes, runs timers
//   int64_t wake = core.NextDeadlineMs(t);  // step again then at the latest,
//                                      // and whenever a message or a process end
//                                      // is due before it
//   core.OnSignal(SIGTERM); core.Step(t);   // drain; a second one cuts it short
//   if (core.done()) s = core.Finish();     // goodbye (best effort), close, Status
//   // Destroying the core without Finish() is the process dying (SIGKILL):
//   // its TaskProcesses are destroyed (killed), nothing more is sent; the
//   // simulator drops the link's connection itself.
//   // A freeze (SIGSTOP) is simply no Step() for a while: the next Step()
//   // sees the gap and registers again before starting anything.
//
// What it implements:
//  - register (running[]: running attempts and unacknowledged results) /
//    welcome (abandon[] killed or dropped), reregister, heartbeats carrying
//    running[] (running attempts) every heartbeat_ms, reconnect after
//    heartbeat_ms x liveness of broker silence (the Link), keeping tasks
//    and results meanwhile; register again at once when the Link says its
//    connection was made anew (a restarted broker);
//  - the idle rate: register says `idle_heartbeats: true`; when the welcome
//    gives `idle_heartbeat_ms`, a heartbeat that lists nothing is followed
//    by the next one only that much later, and the broker counts as silent
//    only after idle_heartbeat_ms x liveness, until a task arrives (then
//    the normal rate and limit again, the next heartbeat due
//    heartbeat_ms after the last; a word from the broker that comes at the
//    idle rate more than 2 x heartbeat_ms x liveness after its previous one
//    may head what a partition held up, tasks whose leases lapsed among it:
//    the core registers again and starts nothing until the welcome, as
//    after a freeze);
//  - task (or each of a `tasks` frame, as if it came alone; register says
//    `batch: true`) -> a TaskProcess (cmd[]), or a FunctionPool call (fn: a function
//    of WorkerOptions::functions, announced in register's fns[]; a task
//    naming a function the worker lacks is a failed attempt); result (kept
//    until an ack names it, re-sent after each welcome and every
//    heartbeat_ms x liveness; those of one step go in one `results` frame
//    when the welcome said `batch: true`); abort (a command is killed; a function call
//    cannot be: it is abandoned, runs to its end on its thread, and its
//    output is dropped);
//  - prefetch: --prefetch as given, or without it (-1) AdaptivePrefetch's
//    figure from the run times here, announced with `ready` on each change;
//    when every slot runs a long attempt the held tasks are released;
//  - a register refused for its name (docs/protocol.md, "Worker names"):
//    code name_in_use makes done() true at once and Finish() return a
//    kConflict Status carrying the broker's message ("name 'x' is in use by
//    pid N on host H"): no goodbye, nothing retried; name_reserved
//    registers again every heartbeat_ms until the broker decides;
//  - time limits (the task's `timeout_ms`, counted from its start here): a
//    command past it gets Terminate(), then Kill() after
//    config::kTimeoutGraceMs; a function call is abandoned as for abort.
//    Either way the result is an error "timed out after 30s (...)";
//  - a command that cannot start at all is a result with `permanent: true`
//    (the broker then fails the task without retrying it);
//  - SIGTERM/SIGINT: drain (ready 0; running commands and calls get
//    drain_timeout_ms, then commands are killed, calls abandoned, and both
//    released; results delivered and acknowledged, goodbye acknowledged,
//    waiting for the broker the rest of drain_timeout_ms but at least 2 s;
//    then done(), and Finish() returns Ok). A second signal cuts the drain
//    short. Abandoned calls may still run after that
//    (FunctionPool::CallsInProgress());
//  - a freeze: a Step() more than heartbeat_ms x liveness (+100 ms) after
//    the previous one means the process was stopped past its leases; it
//    registers again and starts nothing until the welcome says which tasks
//    are still its own.
//
// With functions configured, Start() makes a FunctionPool (threads and an
// eventfd: pool_fd() is for the real loop's poll); without, the core makes
// no thread and no fd. Not thread-safe: one thread owns the core, its Link
// and its processes (the real worker's commands are forked from it, and
// their death signal is tied to it).
// worker_core.cc has the step and the drain; worker_messages.cc the
// handling of each broker message and the messages sent; worker_timeouts.cc
// the time limits.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "worker/adaptive_prefetch.h"
#include "worker/function_pool.h"
#include "worker/link.h"
#include "worker/task_process.h"
#include "worker/worker_options.h"

namespace leaseq::worker {

// The longest an owner lets pass between two steps while the process runs
// (the real loop's longest poll); a longer gap past the silence limit is
// taken for a freeze.
inline constexpr int64_t kMaxStepGapMs = 100;

class WorkerCore {
 public:
  // host and pid are what register announces (the real worker's
  // HostName() and getpid()); an empty options.session is a random one.
  WorkerCore(WorkerOptions options, Link& link, ProcessStarter& processes, std::string host,
             int64_t pid);
  // Kills every running process and abandons every call; sends nothing.
  ~WorkerCore();
  WorkerCore(const WorkerCore&) = delete;
  WorkerCore& operator=(const WorkerCore&) = delete;

  // Opens the link and sends register. An error (no pool, a bad endpoint)
  // means the worker cannot run at all.
  Status Start(int64_t now);
  // A signal delivered to the worker; it takes effect at the next Step().
  // SIGTERM/SIGINT: drain (the second: leave now); others (SIGCHLD): none,
  // every Step() reaps.
  void OnSignal(int signo);
  // One pass: the freeze check, signals, processes (reaped, pumped, their
  // results sent), every message the link holds, then the timers.
  void Step(int64_t now);
  // The latest time the next Step() is due (always > now after a Step():
  // heartbeats, resends, drain phases, time limits, the link's timers; at
  // most heartbeat_ms x liveness ahead, so that a core stepped on time is
  // never taken for frozen). Messages, process ends and function calls are
  // not timers: the owner steps the core when they happen.
  int64_t NextDeadlineMs(int64_t now) const;
  // Nothing more to do: Finish() now.
  bool done() const { return phase_ == Phase::kDone; }
  // The end of the run: releases what is left, a best-effort goodbye if the
  // ack of ours never came, closes the link. Ok after a clean exit;
  // refused() when the broker refused our name.
  Status Finish();
  const Status& refused() const { return refused_; }

  // For the real loop's poll: the pool's eventfd (-1: no functions) and the
  // fds of the running processes (appended; -1s are skipped).
  int pool_fd() const { return pool_ != nullptr ? pool_->notify_fd() : -1; }
  void AppendProcessFds(std::vector<ProcessFds>* out) const;

  // For tests and simulators.
  // Where the core's own log lines go (default: log::Info); a simulator
  // running many cores can tag them with the worker and its time.
  void set_log(std::function<void(const std::string&)> sink) { log_ = std::move(sink); }
  bool welcomed() const { return welcomed_; }
  bool draining() const { return phase_ != Phase::kRunning; }
  const std::string& session() const { return session_; }
  std::vector<int64_t> RunningIds() const;  // heartbeat running[] (processes and calls)
  std::vector<int64_t> QueuedIds() const;   // heartbeat queued[]: prefetched, not started
  std::vector<int64_t> HeldIds() const;     // register running[]: also unacked results

 private:
  // kFlushing: results and releases not yet delivered; kLeaving: goodbye
  // sent, its ack awaited.
  enum class Phase { kRunning, kDraining, kFlushing, kLeaving, kDone };
  // Exactly one of runner (a command) and call (a function) is set.
  // Destroying an attempt kills its command or abandons its call.
  struct Attempt {
    std::string key;
    std::unique_ptr<TaskProcess> runner;
    std::unique_ptr<FunctionPool::Call> call;
    int64_t started_ms = 0;   // when it started here (its run time, AdaptivePrefetch)
    int64_t timeout_ms = 0;   // its time limit; 0: none
    int64_t deadline_ms = 0;  // steady time the limit is reached; 0: none
    int64_t kill_at_ms = 0;   // past the limit: SIGTERM was sent, SIGKILL is due then
    bool killed = false;      // SIGKILL was sent too
    // A command's outcome, held until hold_until_ms before it is reported
    // (PumpTasks: a task ended by SIGTERM may be the first sign of a stop).
    std::optional<ProcessOutcome> ended;
    int64_t hold_until_ms = 0;
  };
  struct PendingResult {
    wire::Message message;
    int64_t sent_ms = -1;  // -1: to be sent by the next FlushResults
  };

  void HandleSignals(int64_t now);
  void PumpTasks(int64_t now);
  void HandleMessages(int64_t now);
  void HandleTimers(int64_t now);

  void OnWelcome(const wire::Message& m, int64_t now);
  void OnTask(const wire::Message& m, int64_t now);
  void StartTask(int64_t attempt, const wire::Message& m, int64_t now);
  // Starts prefetched tasks while slots are free.
  void StartQueued(int64_t now);
  void SendHeartbeat(int64_t now);
  // --prefetch as given, else what AdaptivePrefetch says now.
  int Prefetch() const { return opt_.prefetch < 0 ? adaptive_.value() : opt_.prefetch; }
  // How many tasks it takes to hold: the prefetch, or, after it was lowered
  // with slots free, the one before (tasks leased before the broker read
  // the `ready` are still on their way: kept, not bounced back).
  int HoldLimit() const { return std::max(Prefetch(), soft_hold_limit_); }
  // How many tasks it may hold unstarted: the credit it gave, its free
  // slots and the above. Tasks for free slots wait in the queue while no
  // welcome says they are ours (after a freeze, a silence, a reconnection).
  int QueueLimit() const {
    return HoldLimit() + std::max(0, opt_.slots - static_cast<int>(running_.size()));
  }
  // Without --prefetch: recomputes the prefetch from the run times and the
  // long attempts and announces a change (`ready`). When every slot runs a
  // long attempt, the held tasks are released (never started: no blame),
  // so that an idle worker runs them; a lower prefetch alone lets them run
  // here (they are about 2 x the budget of work at most).
  void AdaptPrefetch(int64_t now);
  // An attempt started at started_ms ended at now (its run time).
  void NoteFinished(int64_t started_ms, int64_t now) { adaptive_.Finished(now - started_ms); }
  Status StartFunction(int64_t attempt, const wire::Message& m, Attempt* a);
  bool RunInstantFunction(int64_t attempt, const wire::Message& m);
  Status StartCommand(int64_t attempt_no, const wire::Message& m, Attempt* a);
  void OnAbort(const wire::Message& m);
  // Time limits (worker_timeouts.cc): stops what ran past its limit; the
  // earliest moment something is due, or INT64_MAX.
  void EnforceTimeouts(int64_t now);
  int64_t NextTimeoutMs() const;
  // The result of a command stopped for its time limit.
  static ProcessOutcome TimedOut(const Attempt& a, ProcessOutcome ended);
  // Drops an attempt wherever it is: running (killed), queued, or its result.
  void Forget(int64_t attempt);
  void OnAck(const wire::Message& m);
  void OnError(const wire::Message& m);

  void SendRegister(int64_t now);
  // Keeps the result until acknowledged; FlushResults sends it.
  void SendResult(int64_t attempt, const ProcessOutcome& outcome);
  // Sends, while welcomed, every result not sent yet: in one `results`
  // frame (wire_batch.h) when the broker takes them, else one by one.
  void FlushResults(int64_t now);
  void Release(std::vector<int64_t> attempts);
  void BeginDrain(int64_t now);
  void KillAndReleaseAll();
  int64_t SilenceLimitMs() const { return int64_t{heartbeat_ms_} * liveness_; }
  // How long the broker may be silent: longer while we heartbeat at the idle rate.
  int64_t BrokerSilenceLimitMs() const {
    return idle_rate_ ? int64_t{idle_heartbeat_ms_} * liveness_ : SilenceLimitMs();
  }
  // A task came: the normal rate from now on (the next heartbeat
  // heartbeat_ms after the last one, perhaps at once).
  void LeaveIdleRate();
  void RegisterAgainBeforeStarting();
  void Log(const std::string& line) const;

  WorkerOptions opt_;
  Link& link_;
  ProcessStarter& processes_;
  std::string session_;
  std::string host_;
  int64_t pid_;
  std::function<void(const std::string&)> log_;  // empty: log::Info
  std::unique_ptr<FunctionPool> pool_;  // made by Start() when there are functions
  std::vector<int> signals_;            // delivered since the last Step()
  int64_t last_step_ms_ = -1;           // the freeze check's reference
  bool welcomed_ = false;  // the current connection was welcomed
  int64_t register_sent_ms_ = -1;
  // Registers sent so far (each carries the next `seq`), and the first one
  // sent after the last freeze, or after a task came while a register
  // waited for its welcome: a welcome echoing an older seq answers a
  // register that did not list what we hold now, and says nothing about it.
  int64_t register_seq_ = 0;
  int64_t first_current_seq_ = 0;
  // Not welcomed on this connection and a register is due: sent (again)
  // every heartbeat until a welcome answers one (OnWelcome clears it).
  bool register_wanted_ = false;
  int heartbeat_ms_;
  int liveness_;
  int64_t next_heartbeat_ms_ = 0;
  // The welcome's idle_heartbeat_ms (0: the broker has no idle rate), and
  // whether we heartbeat at that rate now: the last heartbeat listed
  // nothing and no task came since (the broker's view is the same).
  int idle_heartbeat_ms_ = 0;
  bool idle_rate_ = false;
  bool last_heartbeat_idle_ = false;  // the last heartbeat started the idle rate
  // The first switch to the idle rate after a welcome is logged (once, not
  // at every lull: a worker whose queue empties often would fill its log).
  bool idle_rate_logged_ = false;
  bool lapse_check_logged_ = false;  // HandleMessages: a task after a lease of silence
  // HandleMessages: a task read up to this time may be part of a backlog
  // that began with a word after a lease of silence at the idle rate (that
  // silence in backlog_silence_ms_); cleared by a welcome to a later register.
  int64_t backlog_window_end_ms_ = -1;
  int64_t backlog_silence_ms_ = 0;
  int64_t broker_heard_ms_ = 0;  // steady: the last message read from the broker
  int64_t heartbeat_sent_ms_ = -1;  // the last one, while welcomed (a gap is logged)
  std::map<int64_t, Attempt> running_;
  AdaptivePrefetch adaptive_;  // used without --prefetch (opt_.prefetch < 0)
  int soft_hold_limit_ = 0;    // HoldLimit()
  // Prefetched tasks in arrival order, and those a heartbeat has reported as
  // queued: starting one of those sends a heartbeat at once, so that the
  // broker blames it if it kills the worker.
  std::deque<std::pair<int64_t, wire::Message>> queue_;
  std::set<int64_t> reported_queued_;
  bool announce_start_ = false;  // a prefetched task started since the last heartbeat
  std::map<int64_t, PendingResult> results_;  // until acknowledged
  bool broker_batches_ = false;  // the welcome said `batch: true`
  std::vector<int64_t> unsent_releases_;      // released while offline
  Phase phase_ = Phase::kRunning;
  int64_t phase_deadline_ms_ = 0;
  bool goodbye_acked_ = false;
  Status refused_;                // the broker refused our name: Finish() returns it
  bool reserved_logged_ = false;  // "asking again" was said
};

}  // namespace leaseq::worker
