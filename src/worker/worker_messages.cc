// WorkerCore, the other half: what the worker does with each broker
// message, and the messages it sends. See worker_core.h.
#include "worker/worker_core.h"

#include <algorithm>

#include "common/duration.h"
#include "common/wire_batch.h"

namespace leaseq::worker {

using wire::Command;
using nlohmann::json;

void WorkerCore::OnWelcome(const wire::Message& m, int64_t now) {
  int64_t seq = 0;
  if (wire::GetInt(m.body, wire::field::kSeq, &seq).ok() && seq < first_current_seq_) {
    Log("ignoring a welcome to a register from before the freeze (seq " + std::to_string(seq) + ")");
    return;
  }
  int64_t hb = 0, live = 0;
  if (wire::GetInt(m.body, wire::field::kHeartbeatMs, &hb).ok() && hb > 0 && hb <= 3600000) {
    heartbeat_ms_ = static_cast<int>(hb);
  }
  if (wire::GetInt(m.body, wire::field::kLiveness, &live).ok() && live > 0 && live <= 1000) {
    liveness_ = static_cast<int>(live);
  }
  // An idle rate slower than the normal one, or none (an older broker).
  int64_t idle_hb = 0;
  idle_heartbeat_ms_ = 0;
  if (wire::GetInt(m.body, wire::field::kIdleHeartbeatMs, &idle_hb).ok() && idle_hb > heartbeat_ms_ &&
      idle_hb <= 3600000) {
    idle_heartbeat_ms_ = static_cast<int>(idle_hb);
  }
  idle_rate_ = false;  // until a heartbeat that lists nothing
  idle_rate_logged_ = false;
  std::vector<int64_t> abandon;
  // Validated on arrival (wire::Validate): the list is there or absent.
  (void)wire::GetIntList(m.body, wire::field::kAbandon, &abandon);
  // No longer ours: kill (or unqueue) them; a result would only be acked as stale.
  for (int64_t id : abandon) Forget(id);
  welcomed_ = true;
  backlog_window_end_ms_ = -1;  // this welcome answers a register sent after what the window held
  const auto batch = m.body.find(wire::field::kBatch);
  broker_batches_ = batch != m.body.end() && batch->is_boolean() && batch->get<bool>();
  // A reregister that came before this welcome answered a message sent
  // before our register (nothing else is sent until a welcome): it is
  // answered too. Registering again would make the broker release every
  // task on its way to us.
  register_wanted_ = false;
  link_.ResetBackoff();
  next_heartbeat_ms_ = now + heartbeat_ms_;
  heartbeat_sent_ms_ = -1;  // a new start: no gap to report
  Log("registered with " + link_.endpoint() + " (heartbeat " + std::to_string(heartbeat_ms_) +
      " ms x " + std::to_string(liveness_) + ", " + std::to_string(running_.size()) +
      " running, " + std::to_string(abandon.size()) + " abandoned, " +
      std::to_string(results_.size()) + " result(s) to deliver)");
  if (!unsent_releases_.empty()) {
    std::vector<int64_t> ids;
    ids.swap(unsent_releases_);
    Release(std::move(ids));
  }
  for (auto& [id, r] : results_) r.sent_ms = -1;
  FlushResults(now);
  // A goodbye answered by reregister (the broker restarted): say it again.
  if (phase_ == Phase::kLeaving) phase_ = Phase::kFlushing;
  // Draining: a register sent before the drain began may have offered slots.
  if (phase_ != Phase::kRunning) link_.Send(wire::Make(Command::kReady, {{wire::field::kSlots, 0}}));
}

void WorkerCore::OnTask(const wire::Message& m, int64_t now) {
  int64_t attempt = 0;
  Status s = wire::GetInt(m.body, wire::field::kAttempt, &attempt);
  if (!s.ok()) {
    Log("ignoring a task without an attempt id: " + s.message());
    return;
  }
  if (running_.count(attempt) != 0 || results_.count(attempt) != 0) return;  // a duplicate
  for (const auto& [id, unused] : queue_) {
    if (id == attempt) return;
  }
  if (phase_ != Phase::kRunning) {
    // Draining. Say so again first: otherwise a broker that believes we have
    // slots leases the released task straight back (a lease/release storm).
    if (welcomed_) link_.Send(wire::Make(Command::kReady, {{wire::field::kSlots, 0}}));
    Release({attempt});
    return;
  }
  // Not welcomed: a task from before a freeze or a broker restart, perhaps
  // leased elsewhere since; it waits for the verdict of a welcome to a
  // register that lists it (Step: a register is sent again for it).
  if (welcomed_ && static_cast<int>(running_.size()) < opt_.slots && queue_.empty()) {
    StartTask(attempt, m, now);
  } else if (static_cast<int>(queue_.size()) < QueueLimit()) {
    queue_.emplace_back(attempt, m);
  } else {
    Release({attempt});  // more than the credit we gave
  }
}

void WorkerCore::StartQueued(int64_t now) {
  // A prefetched task starts only while we know it is still ours: a worker
  // thawed after SIGSTOP, or offline, may have been declared lost meanwhile
  // and its tasks leased elsewhere; the next welcome says (abandon[]).
  const bool leases_current = welcomed_ && link_.HeardWithin(now, SilenceLimitMs());
  AdaptPrefetch(now);
  while (phase_ == Phase::kRunning && leases_current && !queue_.empty() &&
         static_cast<int>(running_.size()) < opt_.slots) {
    auto [attempt, m] = std::move(queue_.front());
    queue_.pop_front();
    StartTask(attempt, m, now);
  }
  // The results gathered so far (PumpTasks, or the messages just handled:
  // an instant function's), in one frame, ahead of the heartbeat below.
  FlushResults(now);
  // One heartbeat for all the prefetched tasks started since the last one:
  // if one of them kills us, the broker must know it ran.
  if (announce_start_ && welcomed_) SendHeartbeat(now);
}

void WorkerCore::StartTask(int64_t attempt, const wire::Message& m, int64_t now) {
  int64_t attempt_no = 0;
  std::string key;
  // The broker counts a prefetched attempt as not started until we say so
  // (unless its result says it first: one that ends here and now).
  const auto prefetched = m.body.find(wire::field::kPrefetched);
  const bool announce =
      reported_queued_.erase(attempt) != 0 ||
      (prefetched != m.body.end() && prefetched->is_boolean() && prefetched->get<bool>());
  Status s = wire::GetString(m.body, wire::field::kKey, &key);
  if (s.ok()) s = wire::GetInt(m.body, wire::field::kAttemptNo, &attempt_no);
  Attempt a;
  a.key = key;
  a.started_ms = now;
  // The limit counts from the start here, not from the lease: a prefetched
  // task's wait is not its run time.
  if (s.ok() && m.body.contains(wire::field::kTimeoutMs)) {
    s = wire::GetInt(m.body, wire::field::kTimeoutMs, &a.timeout_ms);
    if (s.ok() && a.timeout_ms < 0) s = Status::Invalid("field 'timeout_ms' must not be negative");
    // No overflow of now + limit, whatever a broker sends.
    a.timeout_ms = std::min(a.timeout_ms, kMaxDurationMs);
    if (s.ok() && a.timeout_ms > 0) a.deadline_ms = now + a.timeout_ms;
  }
  if (s.ok() && RunInstantFunction(attempt, m)) return;
  if (s.ok()) {
    s = m.body.contains(wire::field::kFn) ? StartFunction(attempt, m, &a)
                              : StartCommand(attempt_no, m, &a);
  }
  if (!s.ok()) {  // a failed attempt, reported like any other
    ProcessOutcome failed;
    failed.error = s.message();
    SendResult(attempt, failed);
    return;
  }
  // An instant function's result, or a failed start's, goes out in this
  // step ahead of any heartbeat, and says that it ran: no heartbeat for it
  // (with a deep prefetch, one per step, listing every held attempt).
  if (announce) announce_start_ = true;
  running_[attempt] = std::move(a);
}

void WorkerCore::AdaptPrefetch(int64_t now) {
  if (opt_.prefetch >= 0 || phase_ != Phase::kRunning || !welcomed_) return;
  int long_running = 0;
  for (const auto& [id, a] : running_) {
    if (!a.ended && now - a.started_ms > adaptive_.LongAfterMs()) ++long_running;
  }
  const bool all_long = long_running >= opt_.slots;
  const int before = adaptive_.value();
  if (adaptive_.Update(long_running)) {
    const int prefetch = adaptive_.value();
    Log("prefetch " + std::to_string(before) + " -> " + std::to_string(prefetch) +
        " (mean run time " + std::to_string(static_cast<int64_t>(adaptive_.MeanMs())) + " ms, " +
        std::to_string(long_running) + " long running)");
    soft_hold_limit_ = prefetch < before && !all_long ? std::max(before, soft_hold_limit_) : 0;
    link_.Send(wire::Make(Command::kReady,
                          {{wire::field::kSlots, opt_.slots}, {wire::field::kPrefetch, prefetch}}));
  }
  if (!all_long || static_cast<int>(queue_.size()) <= Prefetch()) return;
  // Every slot is taken for long: what is held would wait on it while an
  // idle worker could run it. Released after the new credit (above), so
  // that the broker does not lease it straight back to us.
  soft_hold_limit_ = 0;
  std::vector<int64_t> excess;
  while (static_cast<int>(queue_.size()) > Prefetch()) {
    excess.push_back(queue_.back().first);
    reported_queued_.erase(queue_.back().first);
    queue_.pop_back();
  }
  Log("handing back " + std::to_string(excess.size()) +
      " prefetched task(s): every slot runs a long one");
  Release(std::move(excess));
}

// An instant function (noop, echo) runs here and now; false: not one.
bool WorkerCore::RunInstantFunction(int64_t attempt, const wire::Message& m) {
  auto name = m.body.find(wire::field::kFn);
  if (name == m.body.end() || !name->is_string() || opt_.functions == nullptr ||
      !opt_.functions->IsInstant(name->get<std::string>())) {
    return false;
  }
  std::shared_ptr<const Fn> f = opt_.functions->Find(name->get<std::string>());
  ProcessOutcome outcome;
  FnStatus st = (*f)(m.blobs.empty() ? std::string_view() : std::string_view(m.blobs[0]),
                     &outcome.output);
  adaptive_.Finished(0);  // ran within this step
  if (st.ok()) {
    outcome.exit_code = 0;
  } else {
    outcome.error = st.message();  // exit_code -1, as for pooled calls
  }
  SendResult(attempt, outcome);
  return true;
}

// The call runs on a pool thread; PumpTasks() sends its result.
Status WorkerCore::StartFunction(int64_t attempt, const wire::Message& m, Attempt* a) {
  std::string fn;
  Status s = wire::GetString(m.body, wire::field::kFn, &fn);
  if (!s.ok()) return s;
  std::shared_ptr<const Fn> f = opt_.functions != nullptr ? opt_.functions->Find(fn) : nullptr;
  if (f == nullptr || pool_ == nullptr) {
    return Status::Invalid("this worker has no in-process function '" + fn + "'");
  }
  a->call = pool_->Start(attempt, fn, std::move(f), m.blobs.empty() ? std::string() : m.blobs[0]);
  return Status::Ok();
}

// Forked here, on the loop's thread: the command's death signal is tied to it.
Status WorkerCore::StartCommand(int64_t attempt_no, const wire::Message& m, Attempt* a) {
  std::vector<std::string> cmd;
  Status s = wire::GetStringList(m.body, wire::field::kCmd, &cmd);
  if (s.ok() && cmd.empty()) s = Status::Invalid("the task has an empty command");
  if (!s.ok()) return s;
  ProcessSpec spec;
  spec.argv = std::move(cmd);
  if (!m.blobs.empty()) spec.input = m.blobs[0];
  spec.env = {{"LEASEQ_TASK_KEY", a->key}, {"LEASEQ_ATTEMPT", std::to_string(attempt_no)}};
  return processes_.Start(spec, &a->runner);
}

void WorkerCore::OnAbort(const wire::Message& m) {
  std::vector<int64_t> ids;
  (void)wire::GetIntList(m.body, wire::field::kAttempts, &ids);  // validated on arrival
  for (int64_t id : ids) Forget(id);
}

void WorkerCore::Forget(int64_t attempt) {
  running_.erase(attempt);  // the runner's destructor kills the process group
  results_.erase(attempt);
  reported_queued_.erase(attempt);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->first == attempt) {
      queue_.erase(it);
      break;
    }
  }
}

void WorkerCore::OnError(const wire::Message& m) {
  const std::string message = wire::ErrorMessage(m.body, "?");
  const wire::Refusal refusal = wire::RefusalOf(m.body);
  if (refusal == wire::Refusal::kNameInUse) {
    // Another live process holds our name: retrying would only be refused
    // again (or, before this rule, steal its leases). Leave, non-zero.
    refused_ = Status::Conflict(message + "; every worker needs a name of its own (--name)");
    phase_ = Phase::kDone;
    return;
  }
  if (refusal == wire::Refusal::kNameReserved) {
    // Its holder may be reconnecting after a broker restart: ask again.
    if (!reserved_logged_) Log(message + "; asking again every heartbeat");
    reserved_logged_ = true;
    register_wanted_ = true;
    return;
  }
  Log("the broker reports an error: " + message);
}

void WorkerCore::OnAck(const wire::Message& m) {
  std::vector<int64_t> ids;
  (void)wire::GetIntList(m.body, wire::field::kAttempts, &ids);  // validated on arrival
  for (int64_t id : ids) results_.erase(id);
  auto goodbye = m.body.find(wire::field::kGoodbye);
  if (phase_ == Phase::kLeaving && goodbye != m.body.end() && *goodbye == true) {
    goodbye_acked_ = true;
    phase_ = Phase::kDone;
  }
}

void WorkerCore::SendRegister(int64_t now) {
  json body = {{wire::field::kName, opt_.name},
               {wire::field::kPid, pid_},
               {wire::field::kSession, session_},
               {wire::field::kHost, host_},
               {wire::field::kSlots, phase_ == Phase::kRunning ? opt_.slots : 0},
               {wire::field::kPrefetch, Prefetch()},
               {wire::field::kQueued, QueuedIds()},
               {wire::field::kQueues, opt_.queues},
               {wire::field::kFns,
                opt_.functions != nullptr ? json(opt_.functions->Names()) : json::array()},
               {wire::field::kRunning, HeldIds()},
               {wire::field::kSeq, ++register_seq_},
               {wire::field::kBatch, true},
               {wire::field::kIdleHeartbeats, true}};
  if (!opt_.nanny.empty()) body[wire::field::kNanny] = opt_.nanny;
  link_.Send(wire::Make(Command::kRegister, std::move(body)));
  register_sent_ms_ = now;
  register_wanted_ = true;  // until a welcome
}

void WorkerCore::SendResult(int64_t attempt, const ProcessOutcome& outcome) {
  json body = {{wire::field::kAttempt, attempt},
               {wire::field::kExitCode, outcome.exit_code},
               {wire::field::kSignal, outcome.signal},
               {wire::field::kError, outcome.error}};
  if (outcome.permanent) body[wire::field::kPermanent] = true;
  PendingResult& r = results_[attempt];
  r.message = wire::Make(Command::kResult, std::move(body), {outcome.output});
  // Sent at the end of this step with the others finished in it; offline,
  // at the next welcome, which re-sends every result.
  r.sent_ms = -1;
}

void WorkerCore::FlushResults(int64_t now) {
  if (!welcomed_) return;
  std::vector<PendingResult*> due;
  for (auto& [id, r] : results_) {
    if (r.sent_ms < 0) due.push_back(&r);
  }
  if (due.empty()) return;
  for (PendingResult* r : due) r->sent_ms = now;
  if (!broker_batches_ || due.size() == 1) {
    for (PendingResult* r : due) link_.Send(r->message);
    return;
  }
  // Copies: each result stays as it is until acknowledged, for re-sends.
  std::vector<wire::Message> singles;
  singles.reserve(due.size());
  for (PendingResult* r : due) singles.push_back(r->message);
  for (const auto& f : wire::Pack(std::move(singles))) link_.Send(f.message);
}

void WorkerCore::Release(std::vector<int64_t> attempts) {
  if (attempts.empty()) return;
  if (welcomed_ && link_.Send(wire::Make(Command::kRelease, {{wire::field::kAttempts, attempts}}))) {
    return;
  }
  // Kept for the next welcome; the goodbye covers them as well.
  unsent_releases_.insert(unsent_releases_.end(), attempts.begin(), attempts.end());
}

// What a register announces: the running attempts and those whose result
// is not acknowledged yet. The broker releases every attempt leased to us
// that we do not list, so a result finished while it was away must be
// listed to be accepted when it is re-sent after the welcome.
std::vector<int64_t> WorkerCore::HeldIds() const {
  std::vector<int64_t> ids = RunningIds();
  for (const auto& [id, r] : results_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<int64_t> WorkerCore::QueuedIds() const {
  std::vector<int64_t> ids;
  for (const auto& [id, unused] : queue_) ids.push_back(id);
  return ids;
}

std::vector<int64_t> WorkerCore::RunningIds() const {
  std::vector<int64_t> ids;
  for (const auto& [id, a] : running_) ids.push_back(id);
  return ids;
}

}  // namespace leaseq::worker
