// Broker: the broker core, without I/O of its own. Each Pass() drains the
// messages waiting on its RouterPort (router_port.h), hands them to the
// store inside one transaction, reclaims lapsed leases and lost workers,
// wakes delayed tasks whose time has come, leases queued tasks to workers
// with free slots, commits (group commit), and only then sends the replies,
// acknowledgements and assignments of that pass. Nothing is acknowledged
// before it is durable. Time comes from the injected Clock only, so the
// same core runs in the real process (BrokerLoop, broker_loop.h: a ZeroMQ
// ROUTER socket, the system clock) and in the simulator (tools/sim/:
// a simulated network, simulated time).
// Not thread-safe: one thread runs the passes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/broker_metrics.h"
#include "broker/default_timeouts.h"
#include "broker/inbox.h"
#include "broker/lease_rules.h"
#include "broker/name_claim.h"
#include "broker/online_backup.h"
#include "broker/prefetch_hold.h"
#include "broker/router_port.h"
#include "broker/store.h"
#include "broker/worker_registry.h"
#include "common/clock.h"
#include "common/curve.h"
#include "common/protocol.h"
#include "common/status.h"

namespace leaseq {

struct BrokerOptions {
  std::string db_path;
  std::string bind;
  rules::Settings settings{};
  Durability durability = Durability::kNormal;
  // CURVE (--curve-secret, --curve-allow): when enabled, Start() starts the
  // ZAP authenticator and makes the socket a CURVE server before binding.
  curve::ServerSettings curve;
  // --default-timeout: the time limit of tasks without one of their own.
  DefaultTimeouts default_timeouts;
  // --retain: finished tasks that ended longer ago than this are purged, a
  // small batch at a time (broker_retention.cc). 0: keep everything.
  int64_t retain_ms = 0;
  // --http: what the loop shares with the HTTP thread (src/broker/http/):
  // metrics it publishes at each commit, and requests it takes from that
  // thread (inbox.h). Null: none kept, none taken.
  std::shared_ptr<BrokerMetrics> metrics;
  std::shared_ptr<Inbox> inbox;
};

class Broker {
 public:
  // Opens the store and honours the leases found in it for a grace period
  // (options.bind and options.curve are the loop's, unused here). The clock
  // and the port must outlive the broker.
  static Status Create(const BrokerOptions& options, const Clock* clock, RouterPort* port,
                       std::unique_ptr<Broker>* out);

  // One pass: the waiting messages, the timers, dispatch, one commit, then
  // the sends. Run it when messages wait and at least every 50 ms.
  void Pass();
  // A backup or a retention purge is in progress: pass again at once.
  bool Busy() const { return BackupRunning() || RetentionDue(); }
  // The last pass sent replies, tasks or acks (not only heartbeats): their
  // answers may be on the way, so the loop may poll before it sleeps
  // (answer_spin.h).
  bool Answered() const { return answered_; }
  // Copies a few pages of a running online backup; call between passes.
  void StepBackup();
  // Logs the pass, commit and message totals (when the broker stops).
  void LogTotals() const;

 private:
  // A message to send after the pass's commit. Replies that acknowledge a
  // change (needs_commit) are not sent if the commit fails.
  struct Outgoing {
    std::string routing_id;
    wire::Message message;
    bool needs_commit;
    // For "task" / "tasks": the attempts it carries, released if it cannot
    // be delivered.
    std::vector<int64_t> attempt_ids;
  };

  Broker(const BrokerOptions& options, const Clock* clock, RouterPort* port,
         std::unique_ptr<Store> store);
  Status Start();
  // Takes m by value: a batch is taken apart without a copy.
  void Handle(const std::string& routing_id, wire::Message m);
  // Worker messages (broker_workers.cc).
  void OnRegister(const std::string& routing_id, const wire::Message& m);
  void OnWorkerMessage(ConnectedWorker& w, const wire::Message& m);
  // A `results` frame: each item handled as a `result` that came alone.
  // Its body may be text (wire::DecodeResultsAsText): plain ones are read
  // without json (plain_results.h), the rest parsed and checked here.
  void OnResults(ConnectedWorker& w, wire::Message m);
  // Acknowledges the results (after the commit) and stores them together.
  void StoreResults(ConnectedWorker& w, std::vector<AttemptResult> results);
  // The fields of a `result` but its stdout (blob 0).
  static Status ParseResult(const wire::Message& m, AttemptResult* r);
  void OnLostNotice(const std::string& routing_id, const wire::Message& m);
  // Who holds a worker name now, and whether it is live (name_claim.h).
  rules::NameHolder NameHolderOf(const std::string& name);
  // Client requests (broker_requests.cc).
  void OnRequest(const std::string& routing_id, const wire::Message& m);
  Status Submit(const wire::Message& m, nlohmann::json* reply);
  // After a request that held the loop stalled_ms: see broker_requests.cc.
  void ForgiveStall(int64_t stalled_ms);
  // Operators' requests (broker_ops.cc): status per queue, list, pause and
  // resume, bulk retry and cancel, purge. *needs_commit: the reply
  // acknowledges a change.
  Status OnOpsRequest(const wire::Message& m, nlohmann::json* reply, bool* needs_commit);
  Status AddQueueStatus(nlohmann::json* reply);
  Status List(const wire::Message& m, nlohmann::json* reply);
  Status BulkRetry(const wire::Message& m, nlohmann::json* reply);
  Status BulkCancel(const wire::Message& m, nlohmann::json* reply);
  Status Purge(const wire::Message& m, nlohmann::json* reply);
  void SendAborts(const std::vector<LeasedAttempt>& aborts);
  // Why a queued task of this queue (and function) cannot be served by any
  // connected worker now; empty when one can.
  std::string Unservable(const std::string& queue, const std::string& fn) const;
  // Online backup (broker_backup.cc): the request starts or reports on it;
  // StepBackup copies a few pages between passes.
  Status Backup(const wire::Message& m, nlohmann::json* reply);
  bool BackupRunning() const { return backup_ && backup_->copy != nullptr; }
  // Retention (broker_retention.cc): one purge batch when it is due.
  void RetainStep(bool idle);
  bool RetentionDue() const;
  // Time-driven work of a pass.
  void ReclaimLapsed();
  void WakeDue();
  void Dispatch();
  // Queues the messages carrying these tasks to w (its `tasks` frames when
  // it takes batches).
  void QueueTasks(const ConnectedWorker& w, std::vector<Assignment>* assigned);
  void Flush(bool committed, const std::string& commit_error);
  void SendHeartbeats();
  // A heartbeat to every worker now, due or not (after a stall of the loop).
  void HeartbeatEveryWorker();

  void Reply(const std::string& routing_id, wire::Message m, bool needs_commit,
             std::vector<int64_t> attempt_ids = {});
  void LoseWorker(const std::string& name, const std::string& why, rules::Blame blame);
  void CheckStatus(const Status& s);

  BrokerOptions options_;
  const Clock* clock_;
  RouterPort* port_;
  std::unique_ptr<Store> store_;
  WorkerRegistry workers_;
  // No prefetch credit in a queue for a while after a worker of it handed
  // back its prefetched tasks (prefetch_hold.h): 1 s, about ten times what
  // a worker takes to see its slots run long tasks and lower its prefetch.
  PrefetchHold prefetch_hold_{1000};
  std::vector<Outgoing> outbox_;
  // Results acknowledged in this pass, by worker connection: one ack each.
  std::map<std::string, std::vector<int64_t>> acks_;
  std::vector<std::pair<std::string, int64_t>> undelivered_;  // (worker, attempt)
  Status pass_error_;  // the first store error of this pass
  bool work_changed_ = true;  // something may be dispatchable
  int64_t last_reclaim_ms_ = 0;
  int64_t last_heartbeat_sweep_ms_ = 0;  // steady: SendHeartbeats looked at every worker
  bool heartbeat_after_commit_ = false;  // a long pass: its commit may stall the loop too
  int64_t started_ms_ = 0;  // steady, when Start() ran
  // Group commit at work: printed when the broker stops.
  int64_t passes_ = 0, commits_ = 0, messages_ = 0;
  bool answered_ = false;  // the last pass sent something from its outbox
  int64_t sent_ = 0;  // frames of the outbox sent to workers and clients (not heartbeats)
  // A large submission was handled: give its parsing memory back to the
  // system after the pass, so that RSS does not keep the peak.
  bool trim_memory_ = false;
  bool leases_stale_ = false;  // a pass was rolled back: renewals were lost
  // The clocks at the last pass, to see a step of the wall clock.
  int64_t clock_wall_ms_ = 0, clock_steady_ms_ = 0;
  void FollowClockStep();

  struct BackupJob {
    std::string token;  // the client's: its polls find this job
    std::string path;   // absolute, on this host
    std::unique_ptr<OnlineBackup> copy;  // null once finished or failed
    BackupProgress progress;
    Status error;
  };
  std::unique_ptr<BackupJob> backup_;  // the running or last backup

  struct Retention {
    size_t state = 0;       // index into the finished states
    ScanCursor cursor;
    bool cursor_set = false;
    int64_t next_sweep_ms = 0;  // steady
    int64_t last_batch_ms = 0;  // steady
    int64_t swept = 0;          // deleted in this sweep of all states
  };
  Retention retention_;
};

}  // namespace leaseq
