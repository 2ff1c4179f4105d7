#include "worker/worker_core.h"

#include <algorithm>
#include <csignal>

#include "common/log.h"
#include "common/wire_batch.h"
#include "worker/worker_identity.h"

namespace leaseq::worker {

namespace {

using wire::Command;
using nlohmann::json;

// After the drain, the worker waits for the acks of its results and of its
// goodbye for the rest of its drain timeout, and at least this long.
constexpr int64_t kAckWaitMs = 2000;
// A task that dies of SIGTERM while the worker runs normally is reported
// this much later: Slurm's preemption signals every process of the job, and
// the task's end can be seen before the worker's own SIGTERM arrives.
constexpr int64_t kSigtermHoldMs = 1000;
// The goodbye is the last message: give it this long to leave on close.
constexpr int kGoodbyeLingerMs = 500;

}  // namespace

WorkerCore::WorkerCore(WorkerOptions options, Link& link, ProcessStarter& processes,
                       std::string host, int64_t pid)
    : opt_(std::move(options)),
      link_(link),
      processes_(processes),
      session_(opt_.session.empty() ? NewSessionId() : opt_.session),
      host_(std::move(host)),
      pid_(pid),
      heartbeat_ms_(opt_.heartbeat_ms),
      liveness_(opt_.liveness),
      adaptive_(opt_.slots) {}

// running_ goes before pool_: commands are killed and reaped, calls
// abandoned, then the pool's idle threads are joined.
WorkerCore::~WorkerCore() = default;

// After a freeze or a long silence at the idle rate: what the worker holds
// may no longer be its own. It registers again at once and starts nothing
// until a welcome answers that register; welcomes already waiting in the
// link, or on their way, answer an older one and are ignored.
void WorkerCore::RegisterAgainBeforeStarting() {
  welcomed_ = false;
  idle_rate_ = false;
  register_wanted_ = true;
  register_sent_ms_ = -1;  // at once
  first_current_seq_ = register_seq_ + 1;
}

void WorkerCore::Log(const std::string& line) const {
  if (log_) {
    log_(line);
  } else {
    log::Info(line);
  }
}

Status WorkerCore::Start(int64_t now) {
  if (opt_.functions != nullptr && !opt_.functions->empty() && pool_ == nullptr) {
    Status s = FunctionPool::Create(&pool_);
    if (!s.ok()) return s;
  }
  Status s = link_.Open(now);
  if (!s.ok()) return s;
  last_step_ms_ = now;
  broker_heard_ms_ = now;
  SendRegister(now);
  return Status::Ok();
}

void WorkerCore::OnSignal(int signo) { signals_.push_back(signo); }

void WorkerCore::Step(int64_t now) {
  if (last_step_ms_ >= 0 && now - last_step_ms_ > kMaxStepGapMs + SilenceLimitMs()) {
    // Stopped (SIGSTOP, a suspended VM) past our leases: the broker may
    // have declared us lost. Start nothing until a new welcome says which
    // tasks are still ours; what the link holds is from before.
    Log("frozen for " + std::to_string(now - last_step_ms_) + " ms: registering again");
    RegisterAgainBeforeStarting();
  } else if (link_.is_open() && !link_.HeardWithin(now, BrokerSilenceLimitMs() + kMaxStepGapMs)) {
    // A stall too short for a freeze slept through the silence check that
    // would have closed the link: what waits in it may have come after
    // that moment, held up by a partition, and been reclaimed meanwhile
    // (found by the simulator, docs/simulation.md). Do what a check on
    // time would have led to: start nothing until a welcome says what is
    // still ours. Before reading, which would count as hearing the broker.
    Log("woke " + std::to_string(now - last_step_ms_) +
        " ms after the previous step, past the broker's silence limit: registering again");
    RegisterAgainBeforeStarting();
  }
  last_step_ms_ = now;
  HandleSignals(now);
  PumpTasks(now);
  HandleMessages(now);
  if (!refused_.ok()) return;
  HandleTimers(now);
}

Status WorkerCore::Finish() {
  KillAndReleaseAll();  // normally nothing is left; a second signal may leave some
  if (!refused_.ok()) {
    // Not registered: there is nothing to say goodbye for, and a goodbye
    // must not reach the broker as if from the name's holder.
    link_.Close(0);
    return refused_;
  }
  if (goodbye_acked_) {
    Log("exit: goodbye acknowledged");
  } else {
    // Best effort: if it arrives, the broker releases what we held.
    if (link_.is_open()) link_.Send(wire::Make(Command::kGoodbye));
    Log("exit: goodbye not acknowledged (" + std::to_string(results_.size()) +
        " result(s) unacknowledged); unless it arrives, what this worker held is reclaimed as lost");
  }
  link_.Close(kGoodbyeLingerMs);
  return Status::Ok();
}

int64_t WorkerCore::NextDeadlineMs(int64_t now) const {
  // Never further than the freeze check allows.
  int64_t deadline = std::min(now + SilenceLimitMs(), link_.NextDeadline(BrokerSilenceLimitMs()));
  if (register_wanted_ && !welcomed_ && link_.is_open()) {
    deadline = std::min(deadline, register_sent_ms_ + heartbeat_ms_);
  }
  if (welcomed_ && phase_ != Phase::kLeaving) deadline = std::min(deadline, next_heartbeat_ms_);
  if (welcomed_) {
    for (const auto& [id, r] : results_) {
      // A result not sent yet is sent at the next step (FlushResults).
      deadline = std::min(deadline, r.sent_ms < 0 ? now : r.sent_ms + SilenceLimitMs());
    }
  }
  if (phase_ != Phase::kRunning) deadline = std::min(deadline, phase_deadline_ms_);
  for (const auto& [id, a] : running_) {
    if (a.ended) deadline = std::min(deadline, a.hold_until_ms);
    // When it becomes long (AdaptPrefetch): the prefetch may drop then.
    const int64_t long_at = a.started_ms + adaptive_.LongAfterMs() + 1;
    if (opt_.prefetch < 0 && !a.ended && long_at > now) deadline = std::min(deadline, long_at);
  }
  return std::min(deadline, NextTimeoutMs());
}

void WorkerCore::AppendProcessFds(std::vector<ProcessFds>* out) const {
  for (const auto& [id, a] : running_) {
    if (a.runner != nullptr) out->push_back(a.runner->fds());
  }
}

void WorkerCore::HandleSignals(int64_t now) {
  std::vector<int> signals;
  signals.swap(signals_);
  for (int sig : signals) {
    if (sig != SIGTERM && sig != SIGINT) continue;  // SIGCHLD: PumpTasks reaps
    if (phase_ == Phase::kRunning) {
      BeginDrain(now);
    } else if (phase_ != Phase::kDone) {
      Log("second stop signal: killing " + std::to_string(running_.size()) +
          " running task(s) and leaving now");
      KillAndReleaseAll();
      phase_ = Phase::kDone;
    }
  }
}

void WorkerCore::PumpTasks(int64_t now) {
  EnforceTimeouts(now);
  if (pool_ != nullptr) {
    for (auto& [id, outcome] : pool_->TakeFinished()) {
      auto it = running_.find(id);
      if (it == running_.end() || it->second.call == nullptr) continue;  // abandoned meanwhile
      NoteFinished(it->second.started_ms, now);
      ProcessOutcome result;
      result.output = std::move(outcome.output);
      if (outcome.ok) {
        result.exit_code = 0;
      } else {
        // exit_code -1, signal 0: no process ended; the broker stores the
        // function's message as the error, as it is.
        result.error = std::move(outcome.error);
      }
      SendResult(id, result);
      running_.erase(it);
    }
  }
  for (auto it = running_.begin(); it != running_.end();) {
    Attempt& a = it->second;
    if (a.runner == nullptr) {
      ++it;
      continue;
    }
    if (!a.ended) {
      TaskProcess& r = *a.runner;
      r.Reap();  // cheap; also covers a SIGCHLD lost to a full self-pipe
      r.Pump();
      if (!r.Finished()) {
        ++it;
        continue;
      }
      a.ended = r.TakeOutcome();
      NoteFinished(a.started_ms, now);
      if (a.kill_at_ms != 0) {
        a.ended = TimedOut(a, std::move(*a.ended));  // our own time limit stopped it
        a.hold_until_ms = now;
      } else {
        a.hold_until_ms = a.ended->signal == SIGTERM ? now + kSigtermHoldMs : now;
      }
    }
    if (phase_ != Phase::kRunning && a.kill_at_ms == 0 && a.ended->signal == SIGTERM) {
      // Slurm's preemption (and systemd's default KillMode) send SIGTERM to
      // every process of the job, our tasks included: a task that dies of
      // it while we drain was stopped with us, not failed. Handed back
      // without blame, like one cut short by the drain timeout.
      Log("task attempt " + std::to_string(it->first) +
          " ended by SIGTERM while draining: handing it back");
      Release({it->first});
    } else if (now >= a.hold_until_ms) {
      SendResult(it->first, *a.ended);
    } else {
      ++it;  // held: our own SIGTERM may be on its way
      continue;
    }
    it = running_.erase(it);
  }
  StartQueued(now);
}

void WorkerCore::HandleMessages(int64_t now) {
  wire::Message m;
  while (link_.Receive(&m, now)) {
    // At the idle rate the broker speaks at least every few heartbeats; a
    // word after more than two lease lifetimes of silence may be the head
    // of what a partition held up, tasks among it, whose leases lapsed
    // meanwhile: as after a freeze, start nothing until a new welcome says
    // what is still ours (a burst may come over several steps).
    if (idle_rate_ && welcomed_ && now - broker_heard_ms_ > 2 * SilenceLimitMs()) {
      Log("no word from the broker for " + std::to_string(now - broker_heard_ms_) +
          " ms at the idle rate: registering again before starting anything");
      RegisterAgainBeforeStarting();
    }
    // At the idle rate the link stays open through a silence longer than a
    // lease: what comes after one may have been sent at its start, then
    // held up by a partition, a task among it reclaimed since (the broker
    // judges a worker it has just made busy by the normal limit). A task's
    // lease is sure to run only when the broker's word before it is younger
    // than a lease, less a heartbeat for that word's own way here; but that
    // word may itself be the stale head of the backlog, which comes over
    // several steps (found by the simulator, seed 1797000036783). So the
    // first word after such a silence opens a window of a heartbeat: a task
    // in it waits for a welcome to a register listing it.
    if (idle_rate_ && welcomed_ && now - broker_heard_ms_ > SilenceLimitMs() - heartbeat_ms_) {
      backlog_window_end_ms_ = now + heartbeat_ms_;
      backlog_silence_ms_ = now - broker_heard_ms_;
    }
    const bool task = m.command == Command::kTask || m.command == Command::kTasks;
    if (task && welcomed_ && now <= backlog_window_end_ms_) {
      // Normal after a long idle spell: said once, not at every wake-up.
      if (!lapse_check_logged_) {
        Log("a task after " + std::to_string(backlog_silence_ms_) +
            " ms without a word from the broker at the idle rate: registering again before starting it"
            " (and so after each such silence, without saying it again)");
        lapse_check_logged_ = true;
      }
      RegisterAgainBeforeStarting();
    }
    if (register_wanted_ && !welcomed_ && task) {
      // A task that comes while our register waits for its welcome was sent
      // before the broker read that register (it sends the welcome before
      // anything it leases after it): held up by a partition, sent by a
      // broker that has restarted since, or released by that very register,
      // which does not list it. So the welcome to it cannot say whether the
      // task is ours (found by the simulator, docs/simulation.md): register
      // again, listing it as queued, and take only the welcome to that one.
      register_sent_ms_ = -1;
      first_current_seq_ = register_seq_ + 1;
    }
    broker_heard_ms_ = now;
    // Only what a broker sends, with its fields as declared (wire_messages.def);
    // here rather than in the link, so that every Link gets the check.
    Status valid = wire::Validate(wire::Role::kWorker, m.command, m.body);
    if (!valid.ok()) {
      Log("ignoring a bad message from the broker: " + valid.message());
      continue;
    }
    switch (m.command) {
      case Command::kWelcome: OnWelcome(m, now); break;
      case Command::kTask:
        LeaveIdleRate();  // the broker counts us busy from now, whatever we keep
        OnTask(m, now);
        break;
      case Command::kTasks: {
        LeaveIdleRate();
        std::vector<wire::Message> tasks;
        valid = wire::Unpack(std::move(m), &tasks);
        if (!valid.ok()) Log("ignoring a bad message from the broker: " + valid.message());
        for (const wire::Message& t : tasks) {
          // Each as if it had come alone: the same check, the same handling.
          valid = wire::Validate(wire::Role::kWorker, t.command, t.body);
          if (valid.ok()) {
            OnTask(t, now);
          } else {
            Log("ignoring a bad task of a batch from the broker: " + valid.message());
          }
        }
        break;
      }
      case Command::kAbort: OnAbort(m); break;
      case Command::kAck: OnAck(m); break;
      case Command::kReregister:
        // Several messages sent before the broker restarted each draw a
        // reregister: one register per heartbeat period is enough
        // (HandleTimers sends it).
        welcomed_ = false;
        idle_rate_ = false;
        register_wanted_ = true;
        break;
      case Command::kError: OnError(m); break;
      default: break;  // heartbeat: being heard was the point
    }
    if (!refused_.ok()) return;  // what else came is no longer for us
  }
  StartQueued(now);
}

void WorkerCore::HandleTimers(int64_t now) {
  switch (link_.Tick(now, BrokerSilenceLimitMs())) {
    case Link::Event::kLost:
      welcomed_ = false;
      idle_rate_ = false;
      break;
    case Link::Event::kReopened: SendRegister(now); break;
    case Link::Event::kReconnected:
      // The connection was made anew (most often a restarted broker, which
      // does not know us): register now, not at the next heartbeat, which
      // an idle worker sends only every idle_heartbeat_ms.
      Log("the connection to " + link_.endpoint() + " was made anew: registering again");
      welcomed_ = false;
      idle_rate_ = false;
      SendRegister(now);
      break;
    case Link::Event::kNone: break;
  }
  // Until a welcome answers: a register can be lost (read by a broker that
  // died, or its welcome dropped with a pass the broker rolled back), and a
  // worker waiting for a welcome renews none of its leases.
  if (register_wanted_ && !welcomed_ && link_.is_open() && now - register_sent_ms_ >= heartbeat_ms_) {
    SendRegister(now);
  }
  if (welcomed_ && phase_ != Phase::kLeaving && now >= next_heartbeat_ms_) {
    // Always, not only when idle: the heartbeat is what renews the leases
    // of the attempts it lists, and results do not.
    SendHeartbeat(now);
  }
  if (welcomed_) {
    for (auto& [id, r] : results_) {
      if (r.sent_ms >= 0 && now - r.sent_ms >= SilenceLimitMs()) r.sent_ms = -1;  // again
    }
    FlushResults(now);
  }
  if (phase_ == Phase::kDraining && (running_.empty() || now >= phase_deadline_ms_)) {
    if (!running_.empty()) {
      Log("drain timeout: killing and releasing " + std::to_string(running_.size()) +
          " task(s)");
    }
    KillAndReleaseAll();
    phase_ = Phase::kFlushing;
    phase_deadline_ms_ = std::max(phase_deadline_ms_, now + kAckWaitMs);
    if (!welcomed_) {
      Log("the broker is unreachable: waiting up to " + std::to_string(phase_deadline_ms_ - now) +
          " ms to hand back what this worker held (a second signal leaves now)");
    }
  }
  if (phase_ == Phase::kFlushing && welcomed_ && results_.empty() && unsent_releases_.empty()) {
    link_.Send(wire::Make(Command::kGoodbye));
    phase_ = Phase::kLeaving;
  }
  if ((phase_ == Phase::kFlushing || phase_ == Phase::kLeaving) && now >= phase_deadline_ms_) {
    phase_ = Phase::kDone;
  }
}

void WorkerCore::SendHeartbeat(int64_t now) {
  std::vector<int64_t> queued = QueuedIds();
  // Held, not only running: a finished attempt keeps its lease until its
  // result is acknowledged (the re-send comes after heartbeat x liveness).
  // After a heartbeat at the idle rate (no lease to lose) the next one is due that much later.
  const int64_t gap_limit = last_heartbeat_idle_ ? int64_t{idle_heartbeat_ms_} * liveness_ : SilenceLimitMs();
  if (heartbeat_sent_ms_ >= 0 && now - heartbeat_sent_ms_ > gap_limit) {
    // Our leases may have lapsed meanwhile (a stalled machine, a slow loop).
    Log("no heartbeat sent for " + std::to_string(now - heartbeat_sent_ms_) + " ms");
  }
  heartbeat_sent_ms_ = now;
  std::vector<int64_t> held = HeldIds();
  // Holding nothing, and the broker has an idle rate: from this heartbeat on
  // both sides use it (the broker reads that from the empty lists).
  idle_rate_ = idle_heartbeat_ms_ > 0 && held.empty() && queued.empty();
  last_heartbeat_idle_ = idle_rate_;
  link_.Send(wire::Make(Command::kHeartbeat, {{wire::field::kRunning, std::move(held)}, {wire::field::kQueued, queued}}));
  if (idle_rate_ && !idle_rate_logged_) {  // after the send: the broker has it once this is read
    idle_rate_logged_ = true;
    Log("idle: heartbeats every " + std::to_string(idle_heartbeat_ms_) + " ms until a task comes");
  }
  reported_queued_ = std::set<int64_t>(queued.begin(), queued.end());
  announce_start_ = false;
  next_heartbeat_ms_ = now + (idle_rate_ ? idle_heartbeat_ms_ : heartbeat_ms_);
}

void WorkerCore::LeaveIdleRate() {
  if (!idle_rate_) return;
  idle_rate_ = false;
  next_heartbeat_ms_ = std::min(next_heartbeat_ms_, heartbeat_sent_ms_ + heartbeat_ms_);
}

void WorkerCore::BeginDrain(int64_t now) {
  Log("draining: no new work; " + std::to_string(running_.size()) +
      " running task(s) get up to " + std::to_string(opt_.drain_timeout_ms) + " ms");
  phase_ = Phase::kDraining;
  phase_deadline_ms_ = now + opt_.drain_timeout_ms;
  if (welcomed_) link_.Send(wire::Make(Command::kReady, {{wire::field::kSlots, 0}}));
  // Prefetched tasks were never started: hand them back now, without blame.
  std::vector<int64_t> queued = QueuedIds();
  queue_.clear();
  reported_queued_.clear();
  Release(std::move(queued));
}

void WorkerCore::KillAndReleaseAll() {
  std::vector<int64_t> ids = RunningIds();
  for (int64_t id : QueuedIds()) ids.push_back(id);
  queue_.clear();
  reported_queued_.clear();
  running_.clear();  // kills and reaps every command
  Release(std::move(ids));
}

}  // namespace leaseq::worker
