// SimWorker: the simulated worker processes, their link and their tasks.
#include "sim_worker.h"

#include <algorithm>
#include <csignal>
#include <set>

#include "common/config.h"
#include "worker/reconnect_timers.h"

namespace leaseq::sim {


// The worker core's connection on the simulated network, with BrokerLink's
// silence and reconnect timers (reconnect_timers.h).
class SimWorker::Link final : public worker::Link {
 public:
  explicit Link(SimWorker* owner) : owner_(owner) {}
  ~Link() override { Close(0); }

  Status Open(int64_t now_ms) override {
    Close(0);
    conn_ = owner_->net_->Open(owner_->index_);
    attaches_seen_ = 0;
    timers_.Heard(now_ms);
    last_tick_ms_ = now_ms;
    return Status::Ok();
  }
  void Close(int linger_ms) override {
    if (conn_ < 0) return;
    owner_->net_->Close(conn_, linger_ms);
    conn_ = -1;
  }
  bool is_open() const override { return conn_ >= 0; }
  bool Send(const wire::Message& m) override { return conn_ >= 0 && owner_->net_->Send(conn_, m); }
  bool Receive(wire::Message* m, int64_t now_ms) override {
    if (conn_ < 0 || !owner_->net_->Receive(conn_, m)) return false;
    timers_.Heard(now_ms);
    if (owner_->incarnation_ >= 0) {
      auto& received = owner_->record_->incarnations[owner_->incarnation_].received;
      if (m->command == wire::Command::kTask) {
        received.push_back(m->body.value(wire::field::kAttempt, int64_t{0}));
      } else if (m->command == wire::Command::kTasks) {
        const auto tasks = m->body.find(wire::field::kTasks);
        for (const auto& t : tasks != m->body.end() && tasks->is_array() ? *tasks : nlohmann::json::array()) {
          if (t.is_object()) received.push_back(t.value(wire::field::kAttempt, int64_t{0}));
        }
      }
    }
    return true;
  }
  Event Tick(int64_t now_ms, int64_t silence_limit_ms) override {
    const int64_t previous_tick_ms = last_tick_ms_;
    last_tick_ms_ = now_ms;
    // BrokerLink's socket monitor: a connection made gets a full silence
    // period; made anew (a restarted broker), it is reported.
    if (conn_ >= 0 && owner_->net_->Attaches(conn_) != attaches_seen_) {
      const bool again = attaches_seen_ > 0;
      attaches_seen_ = owner_->net_->Attaches(conn_);
      timers_.Connected(previous_tick_ms);
      if (again) return Event::kReconnected;
    }
    if (conn_ >= 0 && timers_.Silent(now_ms, silence_limit_ms)) {
      Close(0);
      timers_.Lost(now_ms);
      return Event::kLost;
    }
    if (conn_ < 0 && timers_.ReopenDue(now_ms)) {
      (void)Open(now_ms);
      return Event::kReopened;
    }
    return Event::kNone;
  }
  bool HeardWithin(int64_t now_ms, int64_t limit_ms) const override {
    return conn_ >= 0 && timers_.HeardWithin(now_ms, limit_ms);
  }
  void ResetBackoff() override { timers_.ResetBackoff(); }
  int64_t NextDeadline(int64_t silence_limit_ms) const override {
    return timers_.NextDeadline(conn_ >= 0, silence_limit_ms);
  }
  const std::string& endpoint() const override { return endpoint_; }
  bool HasArrived() const { return conn_ >= 0 && owner_->net_->HasArrived(conn_); }

 private:
  SimWorker* owner_;
  const std::string endpoint_ = "sim://broker";
  int conn_ = -1;
  int attaches_seen_ = 0;  // of conn_
  int64_t last_tick_ms_ = 0;  // as BrokerLink's
  worker::ReconnectTimers timers_;
};

namespace {

// A task's command, on simulated time.
class SimProcess final : public worker::TaskProcess {
 public:
  SimProcess(SimClock* clock, Record* record, size_t execution, TaskKind kind, int64_t end_ms,
             std::set<SimProcess*>* live)
      : clock_(clock), record_(record), execution_(execution), kind_(kind), end_ms_(end_ms), live_(live) {
    live_->insert(this);
  }
  ~SimProcess() override {
    live_->erase(this);
    Execution& e = record_->executions[execution_];
    if (e.ended_ms < 0) {  // killed with its worker, or dropped by an abort
      e.ended_ms = clock_->now();
      e.signal = SIGKILL;
    }
  }
  worker::ProcessFds fds() const override { return {}; }
  void Pump() override {}
  void Reap() override {}
  void Terminate() override { Stop(SIGTERM); }
  void Kill() override { Stop(SIGKILL); }
  bool Finished() const override { return clock_->now() >= end_ms_; }
  worker::ProcessOutcome TakeOutcome() override {
    live_->erase(this);
    worker::ProcessOutcome o;
    Execution& e = record_->executions[execution_];
    if (signal_ != 0) {
      o.signal = signal_;
      o.error = "killed by signal " + std::to_string(signal_);
    } else if (kind_ == TaskKind::kFail) {
      o.exit_code = 3;
      o.error = "planned failure";
    } else {
      o.exit_code = 0;
      o.output = "done " + e.key;
    }
    e.ended_ms = clock_->now();
    e.exit_code = o.exit_code;
    e.signal = o.signal;
    return o;
  }
  int64_t end_ms() const { return end_ms_; }

 private:
  void Stop(int signo) {
    if (clock_->now() >= end_ms_) return;
    end_ms_ = clock_->now();
    signal_ = signo;
  }
  SimClock* clock_;
  Record* record_;
  size_t execution_;
  TaskKind kind_;
  int64_t end_ms_;
  std::set<SimProcess*>* live_;  // the starter's: processes whose outcome is not taken
  int signal_ = 0;
};

}  // namespace

class SimWorker::Starter final : public worker::ProcessStarter {
 public:
  explicit Starter(SimWorker* owner) : owner_(owner) {}
  Status Start(const worker::ProcessSpec& spec, std::unique_ptr<worker::TaskProcess>* out) override {
    TaskKind kind = TaskKind::kOk;
    if (spec.argv.size() != 4 || spec.argv[0] != "sim" || !ParseTaskKind(spec.argv[1], &kind)) {
      return Status::Invalid("not a simulated task");
    }
    Execution e;
    e.key = spec.argv[3];
    for (const auto& [k, v] : spec.env) {
      if (k == "LEASEQ_ATTEMPT") e.attempt_no = std::stoi(v);
    }
    e.worker = owner_->name_;
    e.incarnation = owner_->incarnation_;
    e.started_ms = owner_->clock_->now();
    e.started_wall_ms = owner_->clock_->WallMs();
    owner_->record_->executions.push_back(e);
    int64_t end = owner_->clock_->now() + std::stoll(spec.argv[2]);
    if (kind == TaskKind::kHang || kind == TaskKind::kPoison) end = INT64_MAX;
    if (kind == TaskKind::kPoison) owner_->die_now_ = true;
    *out = std::make_unique<SimProcess>(owner_->clock_, owner_->record_,
                                        owner_->record_->executions.size() - 1, kind, end, &live_);
    return Status::Ok();
  }
  // The earliest end, after `after`, of a process whose outcome is not
  // taken (INT64_MAX: none). Ends at or before `after` were seen by a step.
  int64_t NextEndMs(int64_t after) const {
    int64_t next = INT64_MAX;
    for (const SimProcess* p : live_) {
      if (p->end_ms() > after) next = std::min(next, p->end_ms());
    }
    return next;
  }

 private:
  SimWorker* owner_;
  std::set<SimProcess*> live_;  // ordered by address, read only for a minimum
};

SimWorker::SimWorker(int index, const Scenario& scenario, SimClock* clock, Network* net,
                     chaos::Rng* rng, Record* record)
    : index_(index),
      name_("w" + std::to_string(index)),
      scenario_(scenario),
      clock_(clock),
      net_(net),
      rng_(rng),
      record_(record),
      next_pid_(1000 + 1000 * index) {}

SimWorker::~SimWorker() {
  core_.reset();  // before the link and the starter it uses
}

void SimWorker::Trace(const std::string& line) {
  record_->trace.push_back("t=" + std::to_string(clock_->now()) + "ms " + name_ + ": " + line);
}

void SimWorker::StartProcess() {
  restart_at_ = -1;
  ++generation_;
  worker::WorkerOptions o;
  o.name = name_;
  if (scenario_.nannies) {
    o.nanny = name_ + "-n" + std::to_string(nanny_generation_);
    o.session = o.nanny + "." + std::to_string(generation_);
  } else {
    o.session = name_ + ".s" + std::to_string(generation_);
  }
  o.slots = scenario_.slots;
  o.prefetch = scenario_.prefetch;
  o.heartbeat_ms = scenario_.heartbeat_ms;
  o.liveness = scenario_.liveness;
  o.drain_timeout_ms = static_cast<int>(scenario_.drain_timeout_ms);
  link_ = std::make_unique<Link>(this);
  starter_ = std::make_unique<Starter>(this);
  Incarnation inc;
  inc.worker = name_;
  inc.session = o.session;
  inc.started_ms = clock_->now();
  record_->incarnations.push_back(inc);
  incarnation_ = static_cast<int>(record_->incarnations.size()) - 1;
  const int64_t pid = next_pid_++;
  core_ = std::make_unique<worker::WorkerCore>(o, *link_, *starter_, "simhost", pid);
  frozen_until_ = 0;
  die_now_ = false;
  Trace("process started, session " + o.session + ", pid " + std::to_string(pid));
  Status s = core_->Start(clock_->now());
  last_step_ms_ = clock_->now();
  if (!s.ok()) {
    Trace("start failed: " + s.message());
    Exited(true);
  }
  lost_pid_ = pid;
  lost_session_ = o.session;
}

void SimWorker::Exited(bool killed) {
  Incarnation& inc = record_->incarnations[incarnation_];
  inc.ended_ms = clock_->now();
  inc.killed = killed;
  if (killed) inc.last_fault_ms = clock_->now();
  core_.reset();
  starter_.reset();
  link_.reset();  // a dead process's connection resets (linger 0)
  incarnation_ = -1;
}

void SimWorker::Kill(const std::string& why) {
  if (core_ == nullptr) return;
  Trace("killed (" + why + ")");
  Exited(true);
  if (scenario_.nannies) {
    lost_notice_at_ = clock_->now() + rng_->Uniform(1, 30);
    restart_at_ = clock_->now() + rng_->Uniform(100, 600);
  } else {
    restart_at_ = clock_->now() + rng_->Uniform(1000, 3000);
  }
}

void SimWorker::Drain() {
  if (core_ == nullptr) return;
  Trace("SIGTERM: draining");
  record_->incarnations[incarnation_].last_fault_ms = clock_->now();
  core_->OnSignal(SIGTERM);
}

void SimWorker::Freeze(int64_t until_ms) {
  if (core_ == nullptr) return;
  Trace("frozen until t=" + std::to_string(until_ms) + "ms");
  frozen_until_ = std::max(frozen_until_, until_ms);
  record_->incarnations[incarnation_].last_fault_ms = until_ms;
}

void SimWorker::NoteFault() {
  if (incarnation_ >= 0) record_->incarnations[incarnation_].last_fault_ms = clock_->now();
}

void SimWorker::Step() {
  const int64_t now = clock_->now();
  if (lost_notice_at_ >= 0 && lost_notice_at_ <= now) {
    // The nanny saw its child die: it tells the broker, best effort.
    lost_notice_at_ = -1;
    const int conn = net_->Open(Network::kClientOwner);
    net_->Send(conn, wire::Make(wire::Command::kLost, {{wire::field::kName, name_},
                                                       {wire::field::kPid, lost_pid_},
                                                       {wire::field::kSession, lost_session_},
                                                       {wire::field::kId, "lost-" + lost_session_}}));
    net_->Close(conn, 1000);
  }
  if (core_ == nullptr && restart_at_ >= 0 && restart_at_ <= now) StartProcess();
  if (core_ == nullptr || now < frozen_until_) return;
  core_->Step(now);
  last_step_ms_ = now;
  if (die_now_) {
    Kill("a poison task");
  } else if (core_->done()) {
    Status s = core_->Finish();
    Trace(s.ok() ? "exited after its drain" : "exited: " + s.message());
    Exited(false);
    ++nanny_generation_;  // SIGTERM ended the nanny too; the operator starts a new one
    restart_at_ = now + rng_->Uniform(300, 1500);
  }
}

int64_t SimWorker::NextEventMs() const {
  int64_t next = INT64_MAX;
  if (lost_notice_at_ >= 0) next = std::min(next, lost_notice_at_);
  if (core_ == nullptr) return restart_at_ >= 0 ? std::min(next, restart_at_) : next;
  const int64_t now = clock_->now();
  if (now < frozen_until_) return std::min(next, frozen_until_);
  if (link_->HasArrived()) return now;
  // As the real loop (worker_loop.cc): the deadlines as of the last step,
  // and a step at least every 100 ms.
  const int64_t last = std::max<int64_t>(last_step_ms_, 0);
  next = std::min({next, core_->NextDeadlineMs(last), last + worker::kMaxStepGapMs});
  next = std::min(next, starter_->NextEndMs(last_step_ms_));
  return next;
}

}  // namespace leaseq::sim
