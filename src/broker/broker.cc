// Broker: the pass (one group commit) and the outbox.
#include "broker/broker.h"

#include <algorithm>
#include <malloc.h>

#include <cstdio>

#include "broker/store_schema.h"
#include "common/config.h"
#include "common/log.h"
#include "common/task_body.h"
#include "common/wire_batch.h"

namespace leaseq {

namespace {
// Reclaim and lost-worker checks run at least this often.
constexpr int64_t kReclaimIntervalMs = 50;
// Lapsed leases handled per pass at most (the rest in the next pass).
constexpr int kReclaimBatch = 1000;
// Delayed tasks woken per pass at most: a million due at the same moment
// are spread over passes instead of one long transaction.
constexpr int kWakeBatch = 10000;
// Heartbeats to workers go out in sweeps, this many per heartbeat interval,
// not by a look at every worker on every pass: with a thousand workers each
// message would otherwise cost a walk over all of them. A worker still hears
// from the broker at least every heartbeat interval.
constexpr int64_t kHeartbeatSweepsPerInterval = 8;
}  // namespace

Status Broker::Create(const BrokerOptions& options, const Clock* clock, RouterPort* port,
                      std::unique_ptr<Broker>* out) {
  std::unique_ptr<Store> store;
  Status s = Store::Open(options.db_path, options.durability, options.settings, &store);
  if (!s.ok()) return s;
  if (store->migrated_from() != 0) {
    std::fprintf(stderr, "leaseq-broker: upgraded %s from schema version %d to %d\n",
                 options.db_path.c_str(), store->migrated_from(), schema::kCurrentVersion);
  }
  if (options.metrics) store->set_metrics(options.metrics.get());
  std::unique_ptr<Broker> broker(new Broker(options, clock, port, std::move(store)));
  s = broker->Start();
  if (!s.ok()) return s;
  *out = std::move(broker);
  return Status::Ok();
}

Broker::Broker(const BrokerOptions& options, const Clock* clock, RouterPort* port,
               std::unique_ptr<Store> store)
    : options_(options), clock_(clock), port_(port), store_(std::move(store)) {}

Status Broker::Start() {
  // Leases found in the database belong to workers that may be reconnecting:
  // honour them for a grace period instead of reclaiming them at once.
  const int64_t grace = rules::StartupGraceMs(options_.settings);
  std::vector<std::string> alive;
  Status s = store_->Begin();
  if (s.ok()) s = store_->HonourLeases(rules::StartupLeaseFloor(options_.settings, clock_->WallMs()));
  if (s.ok()) s = store_->ClampFutureTimes(clock_->WallMs(), options_.settings.retry_backoff_max_ms);
  if (s.ok()) s = store_->AliveWorkers(&alive);
  if (s.ok()) s = store_->Commit();
  if (!s.ok()) {
    store_->Rollback();
    return s;
  }
  for (const auto& name : alive) workers_.Expect(name, clock_->SteadyMs() + grace);
  started_ms_ = clock_->SteadyMs();
  return Status::Ok();
}

void Broker::LogTotals() const {
  log::Printf(log::Level::kInfo, "%lld loop passes, %lld commits, %lld messages, %lld sent after commits",
               static_cast<long long>(passes_), static_cast<long long>(commits_),
               static_cast<long long>(messages_), static_cast<long long>(sent_));
}

void Broker::CheckStatus(const Status& s) {
  if (!s.ok() && pass_error_.ok()) pass_error_ = s;
}

void Broker::Pass() {
  ++passes_;
  answered_ = false;
  pass_error_ = Status::Ok();
  outbox_.clear();
  Status begun = store_->Begin();
  if (!begun.ok()) {
    log::Printf(log::Level::kWarn, "%s", begun.message().c_str());
    // Drain what is waiting so that clients get an answer, then give up this pass.
    pass_error_ = begun;
  }
  // Renewals of passes that were rolled back were lost: give running
  // attempts a full lease again rather than blame them for our disk.
  if (begun.ok()) FollowClockStep();
  if (begun.ok() && leases_stale_) {
    CheckStatus(store_->HonourLeases(rules::LeaseExpiry(options_.settings, clock_->WallMs())));
  }
  int received = 0;
  // Clients' requests are handled after the workers' messages of the same
  // batch: a `fetch` that arrives with the result it asks about sees it,
  // instead of costing the client another round trip. Their own order is
  // kept (a client's submit still comes before its fetch).
  std::vector<std::pair<std::string, wire::Message>> requests;
  for (int i = 0; i < config::kMaxBatchMessages; ++i) {
    std::string routing_id;
    wire::Message m;
    Status decoded;
    if (!port_->Receive(&routing_id, &m, &decoded)) break;
    ++messages_;
    ++received;
    if (!decoded.ok()) {
      Reply(routing_id, wire::MakeError(decoded.message()), false);
      continue;
    }
    if (begun.ok() && wire::SenderAtBroker(m.command) == wire::Role::kClient) {
      requests.emplace_back(std::move(routing_id), std::move(m));
    } else if (begun.ok()) {
      Handle(routing_id, std::move(m));
    } else if (m.body.contains("id")) {
      Reply(routing_id, wire::MakeUnavailable("the broker cannot use its database now: " + begun.message(),
                                              m.body["id"]), false);
    }
  }
  for (auto& [routing_id, m] : requests) Handle(routing_id, std::move(m));
  if (options_.inbox) {
    for (auto& [routing_id, m] : options_.inbox->Take()) {
      if (begun.ok()) {
        OnRequest(routing_id, m);
      } else {
        Reply(routing_id, wire::MakeUnavailable("the broker cannot use its database now: " + begun.message(),
                                                m.body.value("id", nlohmann::json(nullptr))), false);
      }
    }
  }
  if (begun.ok()) {
    for (const auto& [worker, attempt] : undelivered_) CheckStatus(store_->Release(worker, attempt, clock_->WallMs()));
    if (!undelivered_.empty()) work_changed_ = true;
    undelivered_.clear();
    const int64_t now = clock_->SteadyMs();
    if (now - last_reclaim_ms_ >= kReclaimIntervalMs) {
      last_reclaim_ms_ = now;
      ReclaimLapsed();
      WakeDue();
      work_changed_ = true;
    }
    if (work_changed_) Dispatch();
    RetainStep(/*idle=*/received == 0);
  }
  for (auto& [routing_id, ids] : acks_) {
    Reply(routing_id, wire::Make(wire::Command::kAck, {{"attempts", std::move(ids)}}), true);
  }
  acks_.clear();
  bool committed = false;
  std::string error = pass_error_.message();
  if (begun.ok() && pass_error_.ok()) {
    Status c = store_->Commit();
    committed = c.ok();
    ++commits_;
    if (!committed) error = c.message();
  }
  leases_stale_ = !committed;
  if (!committed && begun.ok()) {
    store_->Rollback();
    log::Printf(log::Level::kWarn, "pass rolled back: %s", error.c_str());
  }
  Flush(committed, error);
  if (heartbeat_after_commit_) {
    heartbeat_after_commit_ = false;
    HeartbeatEveryWorker();
  }
  SendHeartbeats();
  // After the replies and heartbeats: none waits for the copy.
  store_->CheckpointIfDue();
  if (trim_memory_) {
    // The freed JSON of a large submission would otherwise stay in the
    // heap: RSS would follow the largest submission, not the work.
    malloc_trim(0);
    trim_memory_ = false;
  }
}

void Broker::Flush(bool committed, const std::string& commit_error) {
  for (auto& out : outbox_) {
    if (options_.inbox && Inbox::Owns(out.routing_id)) {  // the HTTP thread's request
      if (out.needs_commit && !committed) {
        out.message = wire::MakeUnavailable("not stored: " + commit_error, nullptr);
      }
      options_.inbox->Deliver(out.routing_id, std::move(out.message));
      continue;
    }
    if (out.needs_commit && !committed) {
      // The change was not stored: a client learns why; a worker sends again.
      if (out.message.command == wire::Command::kReply && out.message.body.contains("id")) {
        port_->Send(out.routing_id,
                    wire::MakeUnavailable("not stored: " + commit_error, out.message.body["id"]));
      }
      continue;
    }
    bool sent = port_->Send(out.routing_id, out.message);
    ++sent_;
    answered_ = answered_ || sent;
    if (ConnectedWorker* w = workers_.ByRoutingId(out.routing_id)) {
      if (sent) w->last_sent_ms = clock_->SteadyMs();
      // Busy now (a task of a committed pass reached its socket): back to
      // the normal rate, as the worker is once it reads it.
      if (sent && (out.message.command == wire::Command::kTask ||
                   out.message.command == wire::Command::kTasks)) {
        w->Leased(w->last_sent_ms);
      }
      if (!sent) w->unreachable = true;
      if (!sent) {
        for (int64_t id : out.attempt_ids) undelivered_.push_back({w->record.name, id});
      }
    }
  }
  outbox_.clear();
}

void Broker::Reply(const std::string& routing_id, wire::Message m, bool needs_commit,
                   std::vector<int64_t> attempt_ids) {
  outbox_.push_back({routing_id, std::move(m), needs_commit, std::move(attempt_ids)});
}

void Broker::SendHeartbeats() {
  const int64_t now = clock_->SteadyMs();
  const int64_t sweep = std::max<int64_t>(1, options_.settings.heartbeat_ms / kHeartbeatSweepsPerInterval);
  if (now - last_heartbeat_sweep_ms_ < sweep) return;
  last_heartbeat_sweep_ms_ = now;
  for (auto& [name, w] : workers_.all()) {
    // Due before the next sweep: sent now, so never later than an interval
    // (the idle one to a worker that heartbeats at the idle rate).
    if (now - w.last_sent_ms >= w.HeartbeatIntervalMs(options_.settings) - sweep) {
      // A send that fails: its connection is gone (the process died), and
      // its silence is then judged by the normal rule, not the idle one.
      if (!port_->Send(w.routing_id, wire::Make(wire::Command::kHeartbeat))) w.unreachable = true;
      w.last_sent_ms = now;
    }
  }
}

void Broker::HeartbeatEveryWorker() {
  const int64_t now = clock_->SteadyMs();
  for (auto& [name, w] : workers_.all()) w.last_sent_ms = now - w.HeartbeatIntervalMs(options_.settings);
  last_heartbeat_sweep_ms_ = now - options_.settings.heartbeat_ms;  // a sweep now, whenever the last
  SendHeartbeats();
}

void Broker::LoseWorker(const std::string& name, const std::string& why, rules::Blame blame) {
  int reclaimed = 0;
  CheckStatus(store_->WorkerLost(name, clock_->WallMs(), why, &reclaimed, blame));
  log::Printf(log::Level::kInfo, "worker %s lost (%s); %d attempt(s) reclaimed%s",
               name.c_str(), why.c_str(), reclaimed,
               reclaimed > 0 && blame == rules::Blame::kSuspected
                   ? ", suspected until it comes back or is known dead" : "");
  workers_.Remove(name);
  work_changed_ = true;
}

void Broker::ReclaimLapsed() {
  const int64_t now = clock_->SteadyMs();
  // Silence may be a partition: suspected, not yet a death.
  const rules::Blame silent = rules::BlameOf(rules::LossCause::kSilent);
  for (const auto& name : workers_.Silent(options_.settings, now)) {
    const ConnectedWorker* w = workers_.ByName(name);
    const bool idle = w->hearing().idle;
    LoseWorker(name,
               "silent for " + std::to_string(now - w->last_heard_ms) + " ms" +
                   (idle ? " (idle: limit " + std::to_string(rules::IdleSilenceMs(options_.settings)) + " ms)"
                         : ""),
               silent);
  }
  for (const auto& name : workers_.TakeOverdue(now)) {
    LoseWorker(name, "did not come back after the broker restarted", silent);
  }
  std::vector<LeasedAttempt> expired;
  CheckStatus(store_->ExpiredLeases(clock_->WallMs(), kReclaimBatch, &expired));
  for (const auto& a : expired) {
    ConnectedWorker* w = workers_.ByName(a.worker);
    // A lease that lapsed while its worker is heard: the worker is alive,
    // whatever became of this attempt, and the task killed nothing.
    const rules::LossCause cause =
        rules::CauseOfLapse(options_.settings, w != nullptr, w ? w->hearing() : rules::Hearing{}, now);
    const bool heard = cause == rules::LossCause::kLeaseLapsed;
    const rules::Blame blame = rules::BlameOf(cause);
    if (heard) {
      // Not a worker's death: a renewal that did not come (docs/reliability.md).
      log::Printf(log::Level::kWarn,
                  "lease of attempt %lld lapsed while worker %s is heard (last heartbeat %lld ms "
                  "ago, last message %lld ms ago): reclaimed without blame",
                  static_cast<long long>(a.attempt_id), a.worker.c_str(),
                  static_cast<long long>(now - w->last_heartbeat_ms),
                  static_cast<long long>(now - w->last_heard_ms));
    }
    CheckStatus(store_->Lose(a.attempt_id, clock_->WallMs(), "lease expired", blame));
    if (w != nullptr) {
      Reply(w->routing_id,
            wire::Make(wire::Command::kAbort, {{wire::field::kAttempts, {a.attempt_id}}}), true);
    }
  }
  // Workers lost long ago and not back: dead after all.
  int confirmed = 0;
  if (!rules::SilenceConfirmsDeaths(options_.settings, now - started_ms_)) return;
  CheckStatus(store_->ConfirmSilentDeaths(
      rules::DeathConfirmCutoff(options_.settings, clock_->WallMs()), clock_->WallMs(),
      kReclaimBatch, &confirmed));
  if (confirmed > 0) {
    log::Printf(log::Level::kInfo, "%d lost attempt(s) blamed: their workers stayed away %lld ms",
                 confirmed, static_cast<long long>(options_.settings.death_confirm_ms));
  }
}

void Broker::FollowClockStep() {
  const int64_t wall = clock_->WallMs(), steady = clock_->SteadyMs();
  const int64_t step = clock_steady_ms_ == 0
                           ? 0
                           : rules::WallClockStep(clock_wall_ms_, clock_steady_ms_, wall, steady);
  if (step != 0) {
    // Renewals and reclaims compare wall times: without this a step forward
    // would reclaim every live lease at once, a step back keep lapsed ones.
    log::Printf(log::Level::kWarn, "the wall clock stepped by %lld ms: leases move with it",
                 static_cast<long long>(step));
    CheckStatus(store_->ShiftForClockStep(step));
  }
  // Only after a committed pass would be exact; a rolled-back shift is
  // followed by leases_stale_, which renews every lease anyway.
  clock_wall_ms_ = wall;
  clock_steady_ms_ = steady;
}

void Broker::WakeDue() {
  // Tasks whose not_before or retry backoff has passed become dispatchable
  // (delays are honoured to within kReclaimIntervalMs).
  int64_t woken = 0;
  CheckStatus(store_->WakeDue(clock_->WallMs(), kWakeBatch, &woken));
}

void Broker::Dispatch() {
  work_changed_ = false;
  int64_t queued = 0;
  CheckStatus(store_->QueuedCount(&queued));
  if (queued == 0) return;
  const int64_t now = clock_->WallMs();
  // One statement for every worker's leases, not one per worker: with a
  // thousand one-slot workers each pass would otherwise run a thousand.
  std::map<std::string, int64_t> leased;
  CheckStatus(store_->LeasedCounts(&leased));
  const int64_t steady = clock_->SteadyMs();
  for (auto& [name, w] : workers_.all()) {
    const auto held = leased.find(name);
    const int64_t prefetch = prefetch_hold_.Held(w.record.queues, steady) ? 0 : w.record.prefetch;
    const rules::Credit credit =
        rules::CreditOf(w.record.slots, prefetch, held == leased.end() ? 0 : held->second);
    if (credit.tasks <= 0 || w.unreachable) continue;
    std::vector<Assignment> assigned;
    CheckStatus(store_->Claim(w.record, credit.tasks, now, &assigned, credit.free_slots));
    QueueTasks(w, &assigned);
  }
}

void Broker::QueueTasks(const ConnectedWorker& w, std::vector<Assignment>* assigned) {
  std::vector<wire::Message> tasks;
  std::vector<int64_t> ids;
  tasks.reserve(assigned->size());
  ids.reserve(assigned->size());
  for (auto& a : *assigned) {
    wire::TaskBody body;
    body.attempt = a.attempt_id;
    body.attempt_no = a.attempt_no;
    body.key = a.key;
    body.fn = a.fn;
    body.cmd_json = a.cmd_json;  // written by the store from a checked argv
    body.prefetched = a.prefetched;
    body.timeout_ms = options_.default_timeouts.For(a.queue, a.timeout_ms);
    wire::Message task;
    task.command = wire::Command::kTask;
    wire::AppendTaskBody(body, &task.body_text);
    task.blobs.push_back(std::move(a.stdin_bytes));
    tasks.push_back(std::move(task));
    ids.push_back(a.attempt_id);
  }
  if (!w.batch) {
    for (size_t i = 0; i < tasks.size(); ++i) Reply(w.routing_id, std::move(tasks[i]), true, {ids[i]});
    return;
  }
  // One frame for the tasks of this pass (wire_batch.h: a few if large).
  for (auto& f : wire::Pack(std::move(tasks))) {
    Reply(w.routing_id, std::move(f.message), true,
          std::vector<int64_t>(ids.begin() + static_cast<ptrdiff_t>(f.first),
                               ids.begin() + static_cast<ptrdiff_t>(f.first + f.count)));
  }
}

}  // namespace leaseq
