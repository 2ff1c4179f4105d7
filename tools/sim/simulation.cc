// Simulation: the event loop of one run.
#include "simulation.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <memory>
#include <set>

#include "../chaos/rng.h"
#include "broker/broker.h"
#include "common/log.h"
#include "network.h"
#include "sim_checks.h"
#include "sim_client.h"
#include "sim_clock.h"
#include "sim_worker.h"

namespace leaseq::sim {

namespace {

// The broker's loop runs a pass at least this often (broker_loop.cc).
constexpr int64_t kPassIntervalMs = 50;
// How often the end of the work is looked for once the faults are over.
constexpr int64_t kSettleCheckMs = 500;
// Steps at one simulated moment before time is pushed on by 1 ms (a core
// that reports work due now but does none).
constexpr int kMaxStepsPerMoment = 50;

struct LogContext {
  SimClock* clock;
  std::vector<std::string>* trace;
  bool verbose;
};

void SimLog(log::Level level, const std::string& message, void* context) {
  auto* c = static_cast<LogContext*>(context);
  const std::string line = "t=" + std::to_string(c->clock->now()) + "ms log " +
                           (level == log::Level::kInfo ? "" : level == log::Level::kWarn ? "warn " : "error ") +
                           message;
  if (c->verbose) std::fprintf(stderr, "%s\n", line.c_str());
  c->trace->push_back(line);
}

class Run {
 public:
  Run(const Scenario& s, const std::string& dir, bool verbose)
      : s_(s), dir_(dir), rng_(s.seed ^ 0x5eed5eedULL), net_(&clock_, &rng_), client_(s, &clock_, &net_) {
    log_ = {&clock_, &record_.trace, verbose};
    log::SetSink(&SimLog, &log_);
    options_.db_path = dir + "/leaseq.db";
    options_.settings.heartbeat_ms = s.heartbeat_ms;
    options_.settings.liveness = s.liveness;
    options_.settings.allowed_failures = s.allowed_failures;
    options_.settings.death_confirm_ms = s.death_confirm_ms;
    for (int i = 0; i < s.workers; ++i) {
      workers_.push_back(std::make_unique<SimWorker>(i, s, &clock_, &net_, &rng_, &record_));
    }
  }
  ~Run() {
    workers_.clear();
    broker_.reset();
    log::SetSink(nullptr, nullptr);
  }

  void TraceMessages() { net_.TraceMessages(&record_.trace); }

  RunResult Go() {
    mkdir(dir_.c_str(), 0755);
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((options_.db_path + suffix).c_str());
    StartBroker();
    for (auto& w : workers_) w->StartProcess();
    size_t next_fault = 0;
    int steps_now = 0;
    int64_t last_now = -1, next_settle_check = s_.fault_window_ms;
    bool settled = false;
    while (true) {
      const int64_t now = clock_.now();
      steps_now = now == last_now ? steps_now + 1 : 0;
      last_now = now;
      while (next_fault < s_.faults.size() && s_.faults[next_fault].at_ms <= now) {
        Apply(s_.faults[next_fault]);
        ++next_fault;
      }
      RunTimers();
      net_.Deliver();
      if (broker_ != nullptr && (net_.BrokerHasInput() || now >= next_pass_ms_)) {
        broker_->Pass();
        ++passes_;
        next_pass_ms_ = now + kPassIntervalMs;
        CheckPass(*db(), &violations_);
        if (!violations_.empty()) break;
      }
      for (auto& w : workers_) {
        if (w->Due()) w->Step();
      }
      client_.Step();
      if (now >= next_settle_check) {
        next_settle_check = now + kSettleCheckMs;
        if (broker_ != nullptr && client_.all_acked() && Settled()) {
          settled = true;
          break;
        }
      }
      if (now >= s_.deadline_ms) break;
      int64_t next = std::min({Next(next_fault), net_.NextEventMs(), client_.NextEventMs(), next_settle_check});
      if (broker_ != nullptr) next = std::min(next, net_.BrokerHasInput() ? now : next_pass_ms_);
      for (auto& w : workers_) next = std::min(next, w->NextEventMs());
      if (next <= now && steps_now >= kMaxStepsPerMoment) next = now + 1;
      clock_.AdvanceTo(std::min(std::max(next, now), s_.deadline_ms));
    }
    RunResult r;
    if (!settled && violations_.empty()) {
      violations_.push_back("work not finished in time: not settled by t=" + std::to_string(s_.deadline_ms) + "ms");
    }
    if (broker_ == nullptr) StartBroker();  // the checks read its database
    CheckEnd(*db(), s_, record_, client_.acked(), &violations_);
    {
      SQLite::Statement q(*db(), "SELECT (SELECT count(*) FROM tasks WHERE state = 'done'), "
                                 "(SELECT count(*) FROM tasks WHERE state = 'failed'), "
                                 "(SELECT count(*) FROM attempts)");
      if (q.executeStep()) {
        r.tasks_done = q.getColumn(0).getInt();
        r.tasks_failed = q.getColumn(1).getInt();
        r.attempts = q.getColumn(2).getInt();
      }
    }
    r.violations = violations_;
    r.trace = record_.trace;
    r.digest = net_.digest();
    r.simulated_ms = clock_.now();
    r.deliveries = net_.delivered();
    r.passes = passes_;
    return r;
  }

 private:
  struct Timer {
    int64_t at;
    int seq;
    std::function<void()> fn;
  };

  void StartBroker() {
    broker_restart_ms_ = -1;
    Status s = Broker::Create(options_, &clock_, net_.broker_port(), &broker_);
    if (!s.ok()) {
      violations_.push_back("broker did not start: " + s.message());
      return;
    }
    net_.BrokerUp();
    next_pass_ms_ = clock_.now();
    Trace("broker started");
  }

  SQLite::Database* db() {
    if (db_ == nullptr) db_ = std::make_unique<SQLite::Database>(options_.db_path, SQLite::OPEN_READONLY);
    return db_.get();
  }

  bool Settled() {
    SQLite::Statement q(*db(), "SELECT count(*) FROM tasks WHERE state NOT IN ('done', 'failed', 'cancelled')");
    return q.executeStep() && q.getColumn(0).getInt64() == 0;
  }

  void Trace(const std::string& line) {
    record_.trace.push_back("t=" + std::to_string(clock_.now()) + "ms " + line);
  }

  void At(int64_t at, std::function<void()> fn) { timers_.push_back({at, timer_seq_++, std::move(fn)}); }
  void RunTimers() {
    while (true) {
      auto it = std::min_element(timers_.begin(), timers_.end(), [](const Timer& a, const Timer& b) {
        return a.at != b.at ? a.at < b.at : a.seq < b.seq;
      });
      if (it == timers_.end() || it->at > clock_.now()) return;
      auto fn = std::move(it->fn);
      timers_.erase(it);
      fn();
    }
  }
  int64_t Next(size_t next_fault) const {
    int64_t next = next_fault < s_.faults.size() ? s_.faults[next_fault].at_ms : INT64_MAX;
    for (const auto& t : timers_) next = std::min(next, t.at);
    return next;
  }

  void CutWorker(int w, int64_t ms) {
    const int64_t until = clock_.now() + ms;
    net_.Cut(w, until);
    workers_[w]->NoteFault();
    At(until, [this, w] { workers_[w]->NoteFault(); });  // the heal is part of it
  }

  void Apply(const FaultPlan& f) {
    Trace("fault " + DescribeFault(f));
    SimWorker& w = *workers_[f.worker];
    switch (f.kind) {
      case FaultKind::kKill:
        w.Kill("SIGKILL");
        break;
      case FaultKind::kDrain:
        w.Drain();
        break;
      case FaultKind::kFreeze:
        w.Freeze(clock_.now() + f.duration_ms);
        break;
      case FaultKind::kCut:
        CutWorker(f.worker, f.duration_ms);
        break;
      case FaultKind::kCutAll:
        for (int i = 0; i < s_.workers; ++i) CutWorker(i, f.duration_ms);
        break;
      case FaultKind::kFlap: {
        // Down and up every 100-300 ms for the duration.
        int64_t t = 0;
        while (t < f.duration_ms) {
          const int64_t down = rng_.Uniform(50, 300), up = rng_.Uniform(50, 300);
          const int worker = f.worker;
          At(clock_.now() + t, [this, worker, down] { CutWorker(worker, down); });
          t += down + up;
        }
        break;
      }
      case FaultKind::kBrokerCrash:
        if (broker_ == nullptr) break;
        db_.reset();
        broker_.reset();  // between passes: what it had not committed is gone
        net_.BrokerDown();
        broker_restart_ms_ = clock_.now() + f.duration_ms;
        At(broker_restart_ms_, [this] { StartBroker(); });
        break;
      case FaultKind::kClockStep:
        clock_.StepWall(f.duration_ms);
        break;
    }
  }

  const Scenario& s_;
  std::string dir_;
  SimClock clock_;
  chaos::Rng rng_;
  Network net_;
  Record record_;
  LogContext log_;
  BrokerOptions options_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<SQLite::Database> db_;
  std::vector<std::unique_ptr<SimWorker>> workers_;
  Client client_;
  std::vector<Timer> timers_;
  int timer_seq_ = 0;
  int64_t next_pass_ms_ = 0;
  int64_t broker_restart_ms_ = -1;
  int64_t passes_ = 0;
  std::vector<std::string> violations_;
};

}  // namespace

RunResult RunSimulation(const Scenario& scenario, const std::string& dir, const RunOptions& options) {
  Run run(scenario, dir, options.verbose);
  if (options.messages) run.TraceMessages();
  return run.Go();
}

}  // namespace leaseq::sim
