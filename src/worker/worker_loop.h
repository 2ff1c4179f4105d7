// WorkerLoop: the leaseq worker, one thread, one zmq::poll over the broker
// socket, the signal self-pipe, the pipes of the running commands and the
// eventfd of the in-process function calls.
// Implements the worker side of docs/protocol.md:
//  - register (running[]: running attempts and unacknowledged results) /
//    welcome (abandon[] killed or dropped), reregister, heartbeats carrying
//    running[] (running attempts) every heartbeat_ms, reconnect after
//    heartbeat_ms x liveness of broker silence (BrokerLink), keeping tasks
//    and results meanwhile;
//  - task -> ProcessRunner (cmd[]), or a FunctionPool call (fn: a function of
//    WorkerOptions::functions, announced in register's fns[]; a task naming
//    a function the worker lacks is a failed attempt); result (kept until
//    an ack names it, re-sent after each welcome and every heartbeat_ms x
//    liveness); abort (a command is killed; a function call cannot be: it
//    is abandoned, runs to its end on its thread, and its output is dropped);
//  - a register refused for its name (docs/protocol.md, "Worker names"):
//    code name_in_use ends Run() at once with a kConflict Status carrying
//    the broker's message ("name 'x' is in use by pid N on host H"): no
//    goodbye, nothing retried; name_reserved registers again every
//    heartbeat_ms until the broker decides;
//  - time limits (the task's `timeout_ms`, counted from its start here): a
//    command past it gets SIGTERM to its process group, then SIGKILL after
//    config::kTimeoutGraceMs; a function call is abandoned as for abort.
//    Either way the result is an error "timed out after 30s (...)";
//  - a command that cannot start at all is a result with `permanent: true`
//    (the broker then fails the task without retrying it);
//  - SIGTERM/SIGINT: drain (ready 0; running commands and calls get
//    drain_timeout_ms, then commands are killed, calls abandoned, and both
//    released; results delivered and acknowledged, goodbye acknowledged,
//    waiting for the broker the rest of drain_timeout_ms but at least 2 s;
//    Run() returns Ok). A second signal cuts the drain short. Abandoned calls may still run
//    after Run() returned (FunctionPool::CallsInProgress()).
//
// Run() installs process-wide signal handlers (SignalPipe) and forks the
// commands from the calling thread (their death signal is tied to it);
// functions run on the pool's threads, which never fork.
// Not thread-safe: one WorkerLoop per process, used from one thread.
// worker_loop.cc has the loop and the drain; worker_messages.cc the
// handling of each broker message and the messages sent; worker_timeouts.cc
// the time limits.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/config.h"
#include "common/protocol.h"
#include "common/status.h"
#include "worker/broker_link.h"
#include "worker/function_pool.h"
#include "worker/function_registry.h"
#include "worker/process_runner.h"
#include "worker/worker_identity.h"

namespace leaseq::worker {

struct WorkerOptions {
  std::string broker = config::kDefaultBroker;
  std::string name;  // required
  // Our `session`; empty: a new random one. A nanny chooses its child's,
  // "<nanny>.<n>", and passes its own id as `nanny`, sent in register: the
  // broker then lets its next child take the name at once (name_claim.h).
  std::string session;
  std::string nanny;
  int slots = 1;
  // Tasks held beyond the slots, started as soon as one frees, so that a
  // short task never waits for a round trip to the broker. -1: as many as slots.
  int prefetch = -1;
  std::vector<std::string> queues = {"default"};
  int heartbeat_ms = config::kHeartbeatMs;  // until the broker's welcome says otherwise
  int liveness = config::kLiveness;         // likewise
  int drain_timeout_ms = config::kDrainTimeoutMs;
  // The in-process functions it offers (fns[] in register); nullptr: none.
  std::shared_ptr<const FunctionRegistry> functions;
  // CURVE for the broker socket (curve.h); disabled: a plain connection.
  curve::ClientSettings curve;
};

class WorkerLoop {
 public:
  explicit WorkerLoop(WorkerOptions options);
  ~WorkerLoop();

  // Runs until drained (SIGTERM/SIGINT). Ok after a clean exit; an error
  // for what makes running impossible (a bad endpoint, no pipes), and
  // kConflict when the broker refused our name.
  Status Run();

 private:
  // kFlushing: results and releases not yet delivered; kLeaving: goodbye
  // sent, its ack awaited.
  enum class Phase { kRunning, kDraining, kFlushing, kLeaving, kDone };
  // Exactly one of runner (a command) and call (a function) is set.
  // Destroying an attempt kills its command or abandons its call.
  struct Attempt {
    std::string key;
    std::unique_ptr<ProcessRunner> runner;
    std::unique_ptr<FunctionPool::Call> call;
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
    int64_t sent_ms = 0;
  };

  void Poll(int64_t now);
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
  int Prefetch() const { return opt_.prefetch < 0 ? opt_.slots : opt_.prefetch; }
  Status StartFunction(int64_t attempt, const wire::Message& m, Attempt* a);
  bool RunInstantFunction(int64_t attempt, const wire::Message& m, int64_t now);
  Status StartCommand(int64_t attempt_no, const wire::Message& m, Attempt* a);
  void OnAbort(const wire::Message& m);
  // Time limits (worker_timeouts.cc): stops what ran past its limit; the
  // earliest moment something is due (for the poll), or INT64_MAX.
  void EnforceTimeouts(int64_t now);
  int64_t NextTimeoutMs() const;
  // The result of a command stopped for its time limit.
  static ProcessOutcome TimedOut(const Attempt& a, ProcessOutcome ended);
  // Drops an attempt wherever it is: running (killed), queued, or its result.
  void Forget(int64_t attempt);
  void OnAck(const wire::Message& m);
  void OnError(const wire::Message& m);

  void SendRegister(int64_t now);
  void SendResult(int64_t attempt, const ProcessOutcome& outcome, int64_t now);
  void Release(std::vector<int64_t> attempts);
  void BeginDrain(int64_t now);
  void KillAndReleaseAll();
  std::vector<int64_t> RunningIds() const;  // heartbeat running[]
  std::vector<int64_t> QueuedIds() const;   // heartbeat queued[]: prefetched, not started
  std::vector<int64_t> HeldIds() const;     // register running[]: also unacked results
  int64_t SilenceLimitMs() const { return int64_t{heartbeat_ms_} * liveness_; }
  void Log(const std::string& line) const;

  WorkerOptions opt_;
  std::string session_;
  std::string host_;
  SystemClock clock_;
  zmq::context_t context_;
  BrokerLink link_;
  std::unique_ptr<FunctionPool> pool_;  // made by Run() when there are functions
  bool pool_ready_ = false;             // the last poll saw its eventfd readable
  bool welcomed_ = false;  // the current socket was welcomed
  int64_t register_sent_ms_ = -1;
  // Not welcomed on this socket and a register is due: sent (again) every
  // heartbeat until a welcome answers one (OnWelcome clears it).
  bool register_wanted_ = false;
  int heartbeat_ms_;
  int liveness_;
  int64_t next_heartbeat_ms_ = 0;
  int64_t heartbeat_sent_ms_ = -1;  // the last one, while welcomed (a gap is logged)
  std::map<int64_t, Attempt> running_;
  // Prefetched tasks in arrival order, and those a heartbeat has reported as
  // queued: starting one of those sends a heartbeat at once, so that the
  // broker blames it if it kills the worker.
  std::deque<std::pair<int64_t, wire::Message>> queue_;
  std::set<int64_t> reported_queued_;
  bool announce_start_ = false;  // a prefetched task started since the last heartbeat
  std::map<int64_t, PendingResult> results_;  // until acknowledged
  std::vector<int64_t> unsent_releases_;      // released while offline
  Phase phase_ = Phase::kRunning;
  int64_t phase_deadline_ms_ = 0;
  bool goodbye_acked_ = false;
  Status refused_;                // the broker refused our name: Run() returns it
  bool reserved_logged_ = false;  // "asking again" was said
};

}  // namespace leaseq::worker
