#include "runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster.h"
#include "faults.h"
#include "journal.h"
#include "process.h"
#include "submissions.h"
#include "workdir.h"

namespace leaseq::chaos {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted = true; }

constexpr int64_t kTickMs = 10;
constexpr int64_t kCountsEveryMs = 200;
constexpr int64_t kStartupTimeoutMs = 20000;
constexpr int64_t kStallMs = 150;  // a 10 ms sleep that took this long: a stall

class Runner {
 public:
  explicit Runner(const RunOptions& opt) : opt_(opt) {}

  bool Run(std::string* error) {
    if (!Prepare(error)) return false;
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    printf("leaseq-chaos: seed %llu (rerun with --seed %llu); work dir %s\n",
           static_cast<unsigned long long>(opt_.seed), static_cast<unsigned long long>(opt_.seed),
           dir_.c_str());
    printf("leaseq-chaos: %d s of faults (one every %d ms on average), %d workers x %d slots, "
           "%d tasks in waves of %d, broker %s, heartbeat %d ms x %d%s\n",
           opt_.seconds, opt_.fault_interval_ms, opt_.workers, opt_.slots, opt_.tasks, opt_.wave_size,
           cluster_->endpoint().c_str(), opt_.heartbeat_ms, opt_.liveness,
           opt_.net_faults ? ", each in a network namespace (network faults on)" : "");
    fflush(stdout);

    if (!cluster_->StartBroker(error)) return Abort(false);
    if (!WaitFor([&] { return cluster_->Ctl({"status"}) == 0; }, kStartupTimeoutMs)) {
      *error = "the broker did not answer within 20 s (see " + journal_->LogPath("broker.log") + ")";
      return Abort(false);
    }
    for (size_t i = 0; i < cluster_->size(); ++i) cluster_->StartNanny(i);
    if (!WaitFor([&] { return cluster_->AliveWorkers() == opt_.workers; }, kStartupTimeoutMs)) {
      *error = "the workers did not all register within 20 s (see " + dir_ + "/logs)";
      return Abort(false);
    }
    // The first wave before any fault: the run starts with work to break.
    subs_->SubmitWave();
    if (!WaitFor([&] {
          subs_->Poll();
          return subs_->acked_waves() > 0;
        }, kStartupTimeoutMs)) {
      *error = "the first wave was not acknowledged within 20 s";
      return Abort(false);
    }

    window_start_wall_ = WallMs();
    journal_->StartWindow(window_start_wall_);
    const int64_t window_start = SteadyMs();
    const int64_t window_end = window_start + static_cast<int64_t>(opt_.seconds) * 1000;
    next_progress_ = window_start + opt_.progress_seconds * 1000;
    while (SteadyMs() < window_end) {
      if (g_interrupted) return Abort(true, error);
      faults_->InjectDue(window_start, SteadyMs());
      Tick(true);
      Nap();
    }
    window_end_wall_ = WallMs();
    printf("leaseq-chaos: fault window over after %d s: %d faults injected, %d skipped; "
           "letting the work finish\n",
           opt_.seconds, journal_->injected(), journal_->skipped());
    fflush(stdout);

    // No more faults: thaw, heal, bring the broker back, let everything finish.
    faults_->EndAll();
    const int64_t settle_deadline = SteadyMs() + static_cast<int64_t>(opt_.settle_seconds) * 1000;
    bool finished = false;
    while (SteadyMs() < settle_deadline) {
      if (g_interrupted) return Abort(true, error);
      Tick(false);
      if (faults_->Idle() && subs_->InFlight() == 0 && cluster_->broker_up() && cluster_->counts_ok() &&
          cluster_->Unfinished() == 0) {
        // Read once more, fresh: the counts may be up to kCountsEveryMs old.
        cluster_->ReadCounts();
        if (cluster_->counts_ok() && cluster_->Unfinished() == 0) {
          finished = true;
          break;
        }
      }
      Nap();
    }
    if (!finished) {
      journal_->Finding("work not finished in time",
                        "after the window, tasks still unfinished after " + std::to_string(opt_.settle_seconds) +
                            " s: " + cluster_->CountsText() +
                            (subs_->InFlight() > 0 ? "; a submission still in flight" : ""));
    }
    printf("leaseq-chaos: %s after %lld s; stopping the cluster\n", finished ? "all tasks terminal" : "GAVE UP waiting",
           static_cast<long long>((WallMs() - window_end_wall_) / 1000));
    fflush(stdout);
    cluster_->Stop();
    subs_->KillAll();
    run_end_wall_ = WallMs();
    WriteRunJson();
    return true;
  }

 private:
  bool Prepare(std::string* error) {
    std::error_code ec;
    dir_ = fs::absolute(opt_.dir).lexically_normal().string();
    if (fs::exists(dir_) && !fs::is_empty(dir_, ec)) {
      *error = "the work directory " + dir_ + " exists and is not empty";
      return false;
    }
    fs::create_directories(dir_ + "/" + files::kSubmits, ec);
    fs::create_directories(dir_ + "/" + files::kLogs, ec);
    if (ec) {
      *error = "cannot create " + dir_ + ": " + ec.message();
      return false;
    }
    for (const char* b : {"leaseq-broker", "leaseq-worker", "leaseq-submit", "leaseq-ctl"}) {
      if (access((opt_.bin + "/" + b).c_str(), X_OK) != 0) {
        *error = "no executable " + opt_.bin + "/" + b + " (use --bin DIR)";
        return false;
      }
    }
    journal_ = std::make_unique<Journal>(dir_);
    cluster_ = std::make_unique<Cluster>(opt_, journal_.get());
    if (!cluster_->Setup(dir_ + "/" + files::kDb, error)) return false;
    log_path_ = dir_ + "/" + files::kSideEffects;
    {
      std::ofstream touch(log_path_);  // exists even if no task ever runs
    }
    subs_ = std::make_unique<Submissions>(opt_, log_path_, cluster_.get(), journal_.get());
    faults_ = std::make_unique<Faults>(opt_, cluster_.get(), subs_.get(), journal_.get());
    WriteRunJson();
    return true;
  }

  void WriteRunJson() {
    json j = {{"seed", opt_.seed},
              {"seconds", opt_.seconds},
              {"workers", opt_.workers},
              {"slots", opt_.slots},
              {"tasks", opt_.tasks},
              {"wave_size", opt_.wave_size},
              {"heartbeat_ms", opt_.heartbeat_ms},
              {"liveness", opt_.liveness},
              {"allowed_failures", opt_.allowed_failures},
              {"drain_timeout_ms", opt_.drain_timeout_ms},
              {"fault_interval_ms", opt_.fault_interval_ms},
              {"fault_kinds", opt_.fault_kinds},
              {"net_faults", opt_.net_faults},
              {"endpoint", cluster_->endpoint()},
              {"bin", opt_.bin},
              {"side_effect_log", log_path_},
              {"planned_faults", faults_->planned()},
              {"waves_submitted", subs_->acked_waves()},
              {"window_start_ms", window_start_wall_},
              {"window_end_ms", window_end_wall_},
              {"run_end_ms", run_end_wall_}};
    std::ofstream(dir_ + "/" + files::kRun) << j.dump(2) << "\n";
  }

  bool WaitFor(const std::function<bool()>& cond, int64_t timeout_ms) {
    const int64_t deadline = SteadyMs() + timeout_ms;
    while (!cond()) {
      if (SteadyMs() >= deadline || g_interrupted) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  // Sleeps one tick. A tick that lasts far longer means this process was not
  // scheduled: the machine is overloaded, and workers may miss heartbeats
  // too. Recorded, so that the checker can tell such a loss from a bug.
  void Nap() {
    const int64_t from = WallMs(), steady = SteadyMs();
    std::this_thread::sleep_for(std::chrono::milliseconds(subs_->NapBefore(kTickMs)));
    const int64_t took = SteadyMs() - steady;
    if (took >= kStallMs) journal_->Stall(from, from + took);
  }

  void Tick(bool window_open) {
    const int64_t now = SteadyMs();
    faults_->RunTimers();
    subs_->Poll();
    std::vector<size_t> restarted;
    if (cluster_->Watch(&restarted)) faults_->RestartBrokerIn(200);
    for (size_t i : restarted) faults_->Forget(i);
    if (now - cluster_->counts_age_from() >= kCountsEveryMs) cluster_->ReadCounts();
    cluster_->CheckStuckWorkers([this](size_t i) { return faults_->Excused(i); });
    if (window_open && subs_->WaveDue() && cluster_->counts_ok() &&
        cluster_->Unfinished() < std::max(40, opt_.wave_size / 2)) {
      subs_->SubmitWave();
    }
    if (now >= next_progress_) {
      next_progress_ = now + opt_.progress_seconds * 1000;
      printf("[chaos %s] faults %d (skipped %d) | waves %d/%d | %s | broker %s\n", journal_->Rel().c_str(),
             journal_->injected(), journal_->skipped(), subs_->acked_waves(), subs_->waves(),
             cluster_->CountsText().c_str(), cluster_->broker_up() ? "up" : "down");
      fflush(stdout);
    }
  }

  bool Abort(bool interrupted, std::string* error = nullptr) {
    if (interrupted && error != nullptr) *error = "interrupted";
    if (faults_ != nullptr) faults_->EndAll();
    if (cluster_ != nullptr) cluster_->Kill();
    return false;
  }

  RunOptions opt_;
  std::string dir_, log_path_;
  // In this order: the faults and submissions use the cluster, the cluster
  // the journal; destroyed the other way round.
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Submissions> subs_;
  std::unique_ptr<Faults> faults_;
  int64_t next_progress_ = 0;
  int64_t window_start_wall_ = 0, window_end_wall_ = 0, run_end_wall_ = 0;
};

}  // namespace

bool RunChaos(const RunOptions& opt, std::string* error) { return Runner(opt).Run(error); }

}  // namespace leaseq::chaos
