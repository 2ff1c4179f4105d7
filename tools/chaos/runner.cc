#include "runner.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "dag.h"
#include "process.h"
#include "rng.h"
#include "workdir.h"

namespace leaseq::chaos {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted = true; }

// Relative weights of the fault kinds in the schedule.
const std::vector<std::pair<std::string, int>>& Weights() {
  static const std::vector<std::pair<std::string, int>> w = {
      {files::kWorkerKill, 25}, {files::kWorkerTerm, 15}, {files::kWorkerStop, 20},
      {files::kBrokerKill, 10}, {files::kBrokerTerm, 8},  {files::kClientKill, 22}};
  return w;
}

constexpr int64_t kTickMs = 10;
constexpr int64_t kCountsEveryMs = 200;
constexpr int64_t kSubmitRetryMs = 300;
constexpr int64_t kBrokerStopTimeoutMs = 15000;
constexpr int64_t kStartupTimeoutMs = 20000;
constexpr int64_t kStallMs = 150;  // a 10 ms sleep that took this long: a stall
constexpr int64_t kStuckMs = 20000;  // a live worker process unregistered this long is stuck
// After a broker start, a healthy worker is registered again within this time
// (its reconnect backoff is 2 s at most).
constexpr int64_t kReconnectGraceMs = 4000;
// leaseq-submit gives up after 3 tries of 2.5 s: one that runs this long hangs.
constexpr int64_t kSubmitHangMs = 60000;

struct PlannedFault {
  int64_t at_ms = 0;  // from the start of the window
  std::string kind;
  uint64_t seed = 0;  // everything else about it (victim, pause, batch) comes from here
};

struct Submission {
  std::string batch;
  std::string file;
  bool retry_until_ok = false;  // waves and resubmissions: tried until acknowledged
  int64_t kill_at = -1;         // steady ms: the client-kill fault
  int tries = 0;
  int64_t next_try = 0;  // steady ms
  int64_t started = 0;   // steady ms, of the current try
  std::unique_ptr<Child> child;
  std::string keys_path, err_path;
  bool done = false;
  bool is_wave = false;
  bool resubmit = false;  // a client-kill whose batch is submitted again later
};

struct Timer {
  int64_t at = 0;  // steady ms
  std::function<void()> run;
};

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
           "%d tasks in waves of %d, broker %s, heartbeat %d ms x %d\n",
           opt_.seconds, opt_.fault_interval_ms, opt_.workers, opt_.slots, opt_.tasks, opt_.wave_size,
           endpoint_.c_str(), opt_.heartbeat_ms, opt_.liveness);
    fflush(stdout);

    if (!StartBroker(error)) return Abort(false);
    if (!WaitFor([&] { return Ctl({"status"}) == 0; }, kStartupTimeoutMs)) {
      *error = "the broker did not answer within 20 s (see " + LogPath("broker.log") + ")";
      return Abort(false);
    }
    for (int i = 0; i < opt_.workers; ++i) StartNanny(i);
    if (!WaitFor([&] { return AliveWorkers() == opt_.workers; }, kStartupTimeoutMs)) {
      *error = "the workers did not all register within 20 s (see " + dir_ + "/logs)";
      return Abort(false);
    }
    // The first wave before any fault: the run starts with work to break.
    SubmitWave();
    if (!WaitFor([&] {
          PollSubmissions();
          return acked_waves_ > 0;
        }, kStartupTimeoutMs)) {
      *error = "the first wave was not acknowledged within 20 s";
      return Abort(false);
    }

    window_start_wall_ = WallMs();
    window_start_ = SteadyMs();
    const int64_t window_end = window_start_ + static_cast<int64_t>(opt_.seconds) * 1000;
    next_progress_ = window_start_ + opt_.progress_seconds * 1000;
    size_t next_fault = 0;
    while (SteadyMs() < window_end) {
      if (g_interrupted) return Abort(true, error);
      const int64_t now = SteadyMs();
      while (next_fault < plan_.size() && window_start_ + plan_[next_fault].at_ms <= now) {
        Inject(plan_[next_fault++]);
      }
      Tick(true);
      Nap();
    }
    window_end_wall_ = WallMs();
    printf("leaseq-chaos: fault window over after %d s: %d faults injected, %d skipped; "
           "letting the work finish\n",
           opt_.seconds, injected_, skipped_);
    fflush(stdout);

    // No more faults: thaw, bring the broker back, let everything finish.
    EndStops();
    for (auto& t : timers_) t.at = std::min(t.at, SteadyMs());  // restarts, resubmissions now
    const int64_t settle_deadline = SteadyMs() + static_cast<int64_t>(opt_.settle_seconds) * 1000;
    bool finished = false;
    while (SteadyMs() < settle_deadline) {
      if (g_interrupted) return Abort(true, error);
      Tick(false);
      if (timers_.empty() && InFlight() == 0 && broker_up_ && counts_ok_ && Unfinished() == 0) {
        // Read once more, fresh: the counts may be up to kCountsEveryMs old.
        ReadCounts();
        if (counts_ok_ && Unfinished() == 0) {
          finished = true;
          break;
        }
      }
      Nap();
    }
    if (!finished) {
      Finding("work not finished in time",
              "after the window, tasks still unfinished after " + std::to_string(opt_.settle_seconds) +
                  " s: " + CountsText() + (InFlight() > 0 ? "; a submission still in flight" : ""));
    }
    printf("leaseq-chaos: %s after %lld s; stopping the cluster\n",
           finished ? "all tasks terminal" : "GAVE UP waiting",
           static_cast<long long>((WallMs() - window_end_wall_) / 1000));
    fflush(stdout);
    StopCluster();
    WriteRunJson();
    return true;
  }

 private:
  // ---- set-up -------------------------------------------------------------

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
    const int port = FreePort();
    if (port <= 0) {
      *error = "no free TCP port on 127.0.0.1";
      return false;
    }
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(port);
    log_path_ = dir_ + "/" + files::kSideEffects;
    db_path_ = dir_ + "/" + files::kDb;
    {
      std::ofstream touch(log_path_);  // exists even if no task ever runs
    }
    manifest_.open(dir_ + "/" + files::kManifest);
    faults_.open(dir_ + "/" + files::kFaults);
    findings_.open(dir_ + "/" + files::kFindings);
    stalls_.open(dir_ + "/" + files::kStalls);

    DagOptions d;
    d.tasks = opt_.tasks;
    d.wave_size = std::max(1, opt_.wave_size);
    d.poison = opt_.poison;
    d.doomed = opt_.doomed;
    main_ = GenerateMainDag(opt_.seed, d);
    waves_ = (static_cast<int>(main_.size()) + d.wave_size - 1) / d.wave_size;
    for (int i = 0; i < opt_.workers; ++i) names_.push_back("w" + std::to_string(i));
    nannies_.resize(static_cast<size_t>(opt_.workers));
    Schedule();
    WriteRunJson();
    return true;
  }

  void Schedule() {
    Rng rng(opt_.seed ^ 0xfa0175c4ed01e5ULL);
    std::vector<std::pair<std::string, int>> kinds;
    int total = 0;
    for (const auto& [k, w] : Weights()) {
      if (!opt_.fault_kinds.empty() &&
          std::find(opt_.fault_kinds.begin(), opt_.fault_kinds.end(), k) == opt_.fault_kinds.end()) {
        continue;
      }
      kinds.push_back({k, w});
      total += w;
    }
    if (total == 0) return;
    const double mean = std::max(10, opt_.fault_interval_ms);
    int64_t t = 0;
    for (;;) {
      // Exponential gaps (a Poisson process), bounded so that no gap is silly.
      double gap = -mean * std::log(1.0 - rng.Unit());
      t += static_cast<int64_t>(std::clamp(gap, 5.0, 6.0 * mean));
      if (t >= static_cast<int64_t>(opt_.seconds) * 1000) break;
      int64_t pick = rng.Uniform(0, total - 1);
      std::string kind;
      for (const auto& [k, w] : kinds) {
        if (pick < w) {
          kind = k;
          break;
        }
        pick -= w;
      }
      plan_.push_back({t, kind, rng.Next()});
    }
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
              {"endpoint", endpoint_},
              {"bin", opt_.bin},
              {"side_effect_log", log_path_},
              {"planned_faults", plan_.size()},
              {"waves_submitted", acked_waves_},
              {"window_start_ms", window_start_wall_},
              {"window_end_ms", window_end_wall_},
              {"run_end_ms", run_end_wall_}};
    std::ofstream(dir_ + "/" + files::kRun) << j.dump(2) << "\n";
  }

  std::string LogPath(const std::string& name) const { return dir_ + "/" + files::kLogs + "/" + name; }

  void Mark(const std::string& log, const std::string& line) {
    std::ofstream(LogPath(log), std::ios::app)
        << "=== leaseq-chaos " << Rel() << ": " << line << "\n";
  }

  std::string Rel() const {
    return "t+" + std::to_string(window_start_wall_ > 0 ? WallMs() - window_start_wall_ : 0) + "ms";
  }

  // ---- records ------------------------------------------------------------

  void FaultRecord(json j) {
    faults_ << j.dump() << "\n";
    faults_.flush();
  }

  void Finding(const std::string& what, const std::string& detail, bool violation = true) {
    findings_ << json({{"t", WallMs()}, {"what", what}, {"detail", detail}, {"violation", violation}}).dump()
              << "\n";
    findings_.flush();
    fprintf(stderr, "leaseq-chaos: %s %s: %s\n", violation ? "FINDING" : "note", what.c_str(), detail.c_str());
  }

  // ---- processes ----------------------------------------------------------

  bool StartBroker(std::string* error) {
    Mark("broker.log", "starting the broker (start #" + std::to_string(++broker_starts_) + ")");
    broker_ = std::make_unique<Child>();
    std::string why;
    if (!broker_->Start(opt_.bin + "/leaseq-broker",
                        {"--db", db_path_, "--bind", endpoint_, "--heartbeat-ms",
                         std::to_string(opt_.heartbeat_ms), "--liveness", std::to_string(opt_.liveness),
                         "--allowed-failures", std::to_string(opt_.allowed_failures)},
                        AppendTo("", LogPath("broker.log")), &why)) {
      if (error != nullptr) *error = "cannot start the broker: " + why;
      return false;
    }
    broker_up_ = true;
    broker_started_at_ = SteadyMs();
    return true;
  }

  void StartNanny(int i) {
    const std::string& name = names_[static_cast<size_t>(i)];
    Mark("worker-" + name + ".log", "starting the nanny");
    auto c = std::make_unique<Child>();
    std::string why;
    if (!c->Start(opt_.bin + "/leaseq-worker",
                  {"--broker", endpoint_, "--nanny", "--slots", std::to_string(opt_.slots), "--name", name,
                   "--heartbeat-ms", std::to_string(opt_.heartbeat_ms), "--drain-timeout-ms",
                   std::to_string(opt_.drain_timeout_ms)},
                  AppendTo("", LogPath("worker-" + name + ".log")), &why)) {
      Finding("cannot start a nanny", name + ": " + why);
    }
    nannies_[static_cast<size_t>(i)] = std::move(c);
  }

  // leaseq-ctl against the cluster; its exit status (-1 on timeout).
  int Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--broker", endpoint_, "--timeout-ms", "300"};
    all.insert(all.end(), args.begin(), args.end());
    Child c;
    std::string why;
    if (!c.Start(opt_.bin + "/leaseq-ctl", all, {}, &why)) return -1;
    if (!c.WaitExit(std::chrono::milliseconds(5000))) return -1;
    return c.exit_code();
  }

  bool WaitFor(const std::function<bool()>& cond, int64_t timeout_ms) {
    const int64_t deadline = SteadyMs() + timeout_ms;
    while (!cond()) {
      if (SteadyMs() >= deadline || g_interrupted) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  // ---- the database (read-only, a fresh connection each time) -------------

  template <typename F>
  bool Query(const std::string& sql, F&& each_row, const std::function<void(SQLite::Statement&)>& bind = {}) {
    try {
      SQLite::Database db(db_path_, SQLite::OPEN_READONLY);
      db.setBusyTimeout(2000);
      SQLite::Statement q(db, sql);
      if (bind) bind(q);
      while (q.executeStep()) each_row(q);
      return true;
    } catch (const std::exception&) {
      return false;  // not created yet, or busy: the caller tries again later
    }
  }

  int AliveWorkers() {
    int n = 0;
    Query("SELECT count(*) FROM workers WHERE state = 'alive'", [&](SQLite::Statement& q) { n = q.getColumn(0).getInt(); });
    return n;
  }

  void ReadCounts() {
    std::map<std::string, int64_t> c;
    counts_ok_ = Query("SELECT state, n FROM task_state_counts",
                       [&](SQLite::Statement& q) { c[q.getColumn(0).getString()] = q.getColumn(1).getInt64(); });
    if (counts_ok_) counts_ = c;
    last_counts_ = SteadyMs();
  }

  int64_t Count(const std::string& s) const {
    auto it = counts_.find(s);
    return it == counts_.end() ? 0 : it->second;
  }
  int64_t Unfinished() const { return Count("waiting") + Count("queued") + Count("running"); }
  std::string CountsText() const {
    std::string s;
    for (const auto& [k, v] : counts_) s += (s.empty() ? "" : " ") + k + "=" + std::to_string(v);
    return s;
  }

  // The pid of a live worker process of ours: from the workers table, and
  // only if its parent is the nanny we started under that name.
  pid_t WorkerPid(size_t i) {
    int64_t pid = 0;
    Query("SELECT pid FROM workers WHERE name = ? AND state = 'alive'",
          [&](SQLite::Statement& q) { pid = q.getColumn(0).getInt64(); },
          [&](SQLite::Statement& q) { q.bind(1, names_[i]); });
    if (pid <= 0 || nannies_[i] == nullptr || !nannies_[i]->Running()) return 0;
    pid_t ppid = 0;
    char state = '?';
    if (!ProcStat(static_cast<pid_t>(pid), &ppid, &state)) return 0;
    if (ppid != nannies_[i]->pid() || state == 'Z' || state == 'X') return 0;
    return static_cast<pid_t>(pid);
  }

  // The worker process a nanny runs now (0 if none): /proc/PID/task/PID/children.
  static pid_t NannyChild(pid_t nanny) {
    std::ifstream in("/proc/" + std::to_string(nanny) + "/task/" + std::to_string(nanny) + "/children");
    long long child = 0;
    in >> child;
    return static_cast<pid_t>(child);
  }

  // A worker process that lives (not frozen by us) but stays unregistered
  // while the broker is up is stuck: it does no work, and its nanny does not
  // replace it. Counted only from kReconnectGraceMs after each broker start
  // (a healthy worker is back by then), summed over restarts, reported once
  // per process at kStuckMs.
  void CheckStuckWorkers() {
    const int64_t now = SteadyMs();
    const int64_t elapsed = now - last_stuck_check_;
    if (elapsed < 1000) return;
    last_stuck_check_ = now;
    std::map<std::string, std::pair<int64_t, std::string>> rows;
    if (!Query("SELECT name, pid, state FROM workers", [&](SQLite::Statement& q) {
          rows[q.getColumn(0).getString()] = {q.getColumn(1).getInt64(), q.getColumn(2).getString()};
        })) {
      return;
    }
    const bool broker_settled = broker_up_ && now - broker_started_at_ >= kReconnectGraceMs;
    unregistered_ms_.resize(names_.size(), 0);
    stuck_pid_.resize(names_.size(), 0);
    no_child_since_.resize(names_.size(), now);
    reported_childless_.resize(names_.size(), false);
    for (size_t i = 0; i < names_.size(); ++i) {
      const pid_t child = nannies_[i] != nullptr && nannies_[i]->Running() ? NannyChild(nannies_[i]->pid()) : 0;
      // A nanny restarts a dead worker within its backoff (5 s at most).
      if (child > 0 || nannies_[i] == nullptr || !nannies_[i]->Running()) {
        no_child_since_[i] = now;
      } else if (now - no_child_since_[i] >= kStuckMs && !reported_childless_[i]) {
        reported_childless_[i] = true;
        Finding("nanny not restarting its worker", names_[i] + ": no worker process for " +
                                                       std::to_string(kStuckMs / 1000) + " s (see logs/worker-" +
                                                       names_[i] + ".log)");
      }
      const auto row = rows.find(names_[i]);
      const bool registered = row != rows.end() && row->second.first == child && row->second.second == "alive";
      if (child <= 0 || registered || child != stuck_pid_[i]) {
        stuck_pid_[i] = child;
        unregistered_ms_[i] = 0;
        continue;
      }
      if (!broker_settled || stopped_.count(i) != 0) continue;
      unregistered_ms_[i] += elapsed;
      if (unregistered_ms_[i] >= kStuckMs && reported_stuck_.insert(child).second) {
        Finding("worker stuck", names_[i] + ": process " + std::to_string(child) + " alive but unregistered for " +
                                    std::to_string(unregistered_ms_[i] / 1000) + " s while the broker was up (" +
                                    std::to_string(ProcFds(child)) + " open fds; see logs/worker-" + names_[i] +
                                    ".log, around " + Rel() + ")");
      }
    }
  }

  static int ProcFds(pid_t pid) {
    std::error_code ec;
    int n = 0;
    for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++n;
    return n;
  }

  // ---- submissions --------------------------------------------------------

  void WriteBatch(const std::string& batch, const std::vector<TaskDef>& tasks) {
    std::ofstream f(dir_ + "/" + files::kSubmits + "/" + batch + ".jsonl");
    for (const auto& t : tasks) {
      f << SubmitLine(t, log_path_) << "\n";
      manifest_ << ToJson(t).dump() << "\n";
    }
    manifest_.flush();
  }

  void SubmitWave() {
    const int w = next_wave_++;
    const size_t from = static_cast<size_t>(w) * static_cast<size_t>(opt_.wave_size);
    const size_t to = std::min(main_.size(), from + static_cast<size_t>(opt_.wave_size));
    std::vector<TaskDef> tasks(main_.begin() + static_cast<long>(from), main_.begin() + static_cast<long>(to));
    const std::string batch = tasks.front().batch;
    WriteBatch(batch, tasks);
    auto s = std::make_unique<Submission>();
    s->batch = batch;
    s->file = dir_ + "/" + files::kSubmits + "/" + batch + ".jsonl";
    s->retry_until_ok = true;
    s->is_wave = true;
    subs_.push_back(std::move(s));
    wave_in_flight_ = true;
  }

  void StartTry(Submission& s) {
    ++s.tries;
    s.started = SteadyMs();
    const std::string base = dir_ + "/" + files::kSubmits + "/" + s.batch + "." + std::to_string(s.tries);
    s.keys_path = base + ".keys";
    s.err_path = base + ".err";
    s.child = std::make_unique<Child>();
    std::string why;
    if (!s.child->Start(opt_.bin + "/leaseq-submit", {"--broker", endpoint_, "--file", s.file},
                        AppendTo(s.keys_path, s.err_path), &why)) {
      Finding("cannot start leaseq-submit", why);
      s.child.reset();
      s.next_try = SteadyMs() + kSubmitRetryMs;
    }
  }

  int InFlight() const {
    int n = 0;
    for (const auto& s : subs_) n += s->done ? 0 : 1;
    return n;
  }

  void PollSubmissions() {
    const int64_t now = SteadyMs();
    for (auto& sp : subs_) {
      Submission& s = *sp;
      if (s.done) continue;
      if (s.child == nullptr) {
        if (now >= s.next_try) StartTry(s);
        continue;
      }
      if (s.kill_at >= 0 && now >= s.kill_at && s.child->Running()) {
        s.child->Signal(SIGKILL);
        s.child->WaitExit(std::chrono::milliseconds(2000));
        const bool printed = !ReadFile(s.keys_path).empty();
        FaultRecord({{"t", WallMs()},
                     {"kind", files::kClientKill},
                     {"target", s.batch},
                     {"pid", s.child->pid()},
                     {"keys_printed", printed},
                     {"resubmit", s.resubmit}});
        ++injected_;
        s.done = true;
        continue;
      }
      if (s.child->Running()) {
        if (now - s.started >= kSubmitHangMs) {
          Finding("leaseq-submit hung", s.batch + " try " + std::to_string(s.tries) + ": still running after " +
                                            std::to_string(kSubmitHangMs / 1000) + " s; killed" +
                                            (s.retry_until_ok ? ", trying again" : ""));
          s.child->Signal(SIGKILL);
          s.child->WaitExit(std::chrono::milliseconds(2000));
          s.child.reset();
          s.next_try = now;
          if (!s.retry_until_ok) s.done = true;
        }
        continue;
      }
      const int code = s.child->exit_code();
      if (code == 0 && !s.is_wave) {  // how long a client takes: for the next kills' timing
        client_ms_ = 0.8 * client_ms_ + 0.2 * static_cast<double>(now - s.started);
      }
      if (s.kill_at >= 0) {
        // The client finished before its kill: the fault did not happen.
        FaultRecord({{"t", WallMs()},
                     {"kind", files::kClientKill},
                     {"target", s.batch},
                     {"skipped", "finished before the kill (" + s.child->Describe() + ")"}});
        ++skipped_;
        if (code != 0 && code != 3) {
          Finding("submission refused", s.batch + ": leaseq-submit " + s.child->Describe() + ": " +
                                            ReadFile(s.err_path));
        }
        s.done = true;
        continue;
      }
      if (code == 0) {
        s.done = true;
        if (s.is_wave) {
          ++acked_waves_;
          wave_in_flight_ = false;
          last_counts_ = 0;  // the next wave waits for counts that include this one
          counts_ok_ = false;
        }
        continue;
      }
      if (code == 3 && s.retry_until_ok) {  // the broker is away: try again
        s.child.reset();
        s.next_try = now + kSubmitRetryMs;
        continue;
      }
      Finding("submission refused",
              s.batch + " try " + std::to_string(s.tries) + ": leaseq-submit " + s.child->Describe() + ": " +
                  ReadFile(s.err_path));
      s.done = true;
      if (s.is_wave) wave_in_flight_ = false;  // its tasks will be reported missing
    }
  }

  // ---- faults -------------------------------------------------------------

  void Skip(const PlannedFault& f, const std::string& why) {
    FaultRecord({{"t", WallMs()}, {"kind", f.kind}, {"skipped", why}});
    ++skipped_;
  }

  void Inject(const PlannedFault& f) {
    Rng rng(f.seed);
    if (f.kind == files::kWorkerKill || f.kind == files::kWorkerTerm || f.kind == files::kWorkerStop) {
      const size_t start = static_cast<size_t>(rng.Uniform(0, opt_.workers - 1));
      const int64_t pause = rng.Uniform(100, 4000);
      for (size_t k = 0; k < names_.size(); ++k) {
        const size_t i = (start + k) % names_.size();
        if (f.kind == files::kWorkerStop && stopped_.count(i) != 0) continue;
        const pid_t pid = WorkerPid(i);
        if (pid <= 0) continue;
        const int sig = f.kind == files::kWorkerKill ? SIGKILL : f.kind == files::kWorkerTerm ? SIGTERM : SIGSTOP;
        const int64_t t = WallMs();
        json rec = {{"t", t}, {"kind", f.kind}, {"target", names_[i]}, {"pid", pid}};
        if (sig == SIGSTOP) rec["end"] = t + pause;
        FaultRecord(rec);  // before the signal: the checker's window starts here
        kill(pid, sig);
        ++injected_;
        Mark("worker-" + names_[i] + ".log", f.kind + " pid " + std::to_string(pid));
        if (sig == SIGSTOP) {
          stopped_[i] = pid;
          timers_.push_back({SteadyMs() + pause, [this, i, pid] { Cont(i, pid); }});
        }
        if (sig == SIGKILL) stopped_.erase(i);
        return;
      }
      return Skip(f, "no live worker");
    }
    if (f.kind == files::kBrokerKill || f.kind == files::kBrokerTerm) {
      if (!broker_up_) return Skip(f, "the broker is down");
      const bool term = f.kind == files::kBrokerTerm;
      const int64_t down = rng.Uniform(0, 2000);
      FaultRecord({{"t", WallMs()}, {"kind", f.kind}, {"target", "broker"}, {"pid", broker_->pid()}});
      Mark("broker.log", f.kind);
      broker_->Signal(term ? SIGTERM : SIGKILL);
      ++injected_;
      if (!broker_->WaitExit(std::chrono::milliseconds(kBrokerStopTimeoutMs))) {
        Finding("broker did not stop", "no exit " + std::to_string(kBrokerStopTimeoutMs) + " ms after " +
                                           (term ? "SIGTERM" : "SIGKILL") + "; killing it");
        broker_->Signal(SIGKILL);
        broker_->WaitExit(std::chrono::milliseconds(5000));
      } else if (term && broker_->exit_code() != 0) {
        Finding("broker SIGTERM: not a clean exit", broker_->Describe() + " (see logs/broker.log)");
      }
      broker_up_ = false;
      timers_.push_back({SteadyMs() + down, [this] { RestartBroker(); }});
      return;
    }
    if (f.kind == files::kClientKill) {
      const int index = client_batches_++;
      const int available = std::min(static_cast<int>(main_.size()), acked_waves_ * opt_.wave_size);
      std::vector<TaskDef> batch = GenerateClientBatch(rng, index, main_, available);
      const std::string name = batch.front().batch;
      WriteBatch(name, batch);
      auto s = std::make_unique<Submission>();
      s->batch = name;
      s->file = dir_ + "/" + files::kSubmits + "/" + name + ".jsonl";
      // Half-way: a fraction (from the seed) of how long a client usually
      // takes here, so that some die before sending, some while the broker
      // commits, some after the reply.
      s->kill_at = SteadyMs() + static_cast<int64_t>(rng.Unit() * 1.5 * client_ms_);
      StartTry(*s);
      // Half the time the user submits the same file again later: the batch
      // must then be stored exactly once (a no-op if the first one got in).
      s->resubmit = rng.Chance(0.5);
      const bool resubmit = s->resubmit;
      subs_.push_back(std::move(s));
      if (resubmit) {
        const int64_t later = rng.Uniform(100, 1500);
        const std::string file = dir_ + "/" + files::kSubmits + "/" + name + ".jsonl";
        timers_.push_back({SteadyMs() + later, [this, name, file] {
                             auto r = std::make_unique<Submission>();
                             r->batch = name;
                             r->file = file;
                             r->retry_until_ok = true;
                             r->tries = 100;  // its keys files: BATCH.101.keys, ...
                             subs_.push_back(std::move(r));
                           }});
      }
      return;
    }
  }

  void Cont(size_t i, pid_t pid) {
    auto it = stopped_.find(i);
    if (it == stopped_.end() || it->second != pid) return;  // killed meanwhile
    stopped_.erase(it);
    pid_t ppid = 0;
    char state = '?';
    if (!ProcStat(pid, &ppid, &state) || nannies_[i] == nullptr || ppid != nannies_[i]->pid()) return;
    FaultRecord({{"t", WallMs()}, {"kind", files::kWorkerCont}, {"target", names_[i]}, {"pid", pid}});
    kill(pid, SIGCONT);
  }

  void EndStops() {
    std::vector<std::pair<size_t, pid_t>> all(stopped_.begin(), stopped_.end());
    for (const auto& [i, pid] : all) Cont(i, pid);
  }

  void RestartBroker() {
    if (broker_up_) return;
    FaultRecord({{"t", WallMs()}, {"kind", files::kBrokerStart}, {"target", "broker"}});
    std::string why;
    if (!StartBroker(&why)) Finding("cannot restart the broker", why);
  }

  // ---- the loop -----------------------------------------------------------

  // Sleeps one tick. A tick that lasts far longer means this process was not
  // scheduled: the machine is overloaded, and workers may miss heartbeats
  // too. Recorded, so that the checker can tell such a loss from a bug.
  void Nap() {
    const int64_t from = WallMs(), steady = SteadyMs();
    int64_t nap = kTickMs;
    for (const auto& sub : subs_) {  // a client to kill: wake up on time
      if (!sub->done && sub->kill_at >= 0) nap = std::min(nap, std::max<int64_t>(0, sub->kill_at - steady));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(nap));
    const int64_t took = SteadyMs() - steady;
    if (took >= kStallMs) {
      stalls_ << json({{"from", from}, {"to", from + took}}).dump() << "\n";
      stalls_.flush();
      ++stalls_count_;
    }
  }

  void Tick(bool window_open) {
    const int64_t now = SteadyMs();
    for (size_t k = 0; k < timers_.size();) {
      if (timers_[k].at <= now) {
        auto run = std::move(timers_[k].run);
        timers_.erase(timers_.begin() + static_cast<long>(k));
        run();
      } else {
        ++k;
      }
    }
    PollSubmissions();
    if (broker_up_ && !broker_->Running()) {
      Finding("broker exited by itself", broker_->Describe() + " (see logs/broker.log); restarting it");
      broker_up_ = false;
      timers_.push_back({now + 200, [this] { RestartBroker(); }});
    }
    for (size_t i = 0; i < nannies_.size(); ++i) {
      if (nannies_[i] != nullptr && !nannies_[i]->Running()) {
        Finding("nanny exited", names_[i] + ": " + nannies_[i]->Describe() + "; restarting it");
        stopped_.erase(i);
        StartNanny(static_cast<int>(i));
      }
    }
    if (now - last_counts_ >= kCountsEveryMs) ReadCounts();
    CheckStuckWorkers();
    if (window_open && !wave_in_flight_ && next_wave_ < waves_ && counts_ok_ &&
        Unfinished() < std::max(40, opt_.wave_size / 2)) {
      SubmitWave();
    }
    if (now >= next_progress_) {
      next_progress_ = now + opt_.progress_seconds * 1000;
      printf("[chaos %s] faults %d (skipped %d) | waves %d/%d | %s | broker %s\n", Rel().c_str(), injected_,
             skipped_, acked_waves_, waves_, CountsText().c_str(), broker_up_ ? "up" : "down");
      fflush(stdout);
    }
  }

  void StopCluster() {
    for (auto& n : nannies_) {
      if (n != nullptr) n->Signal(SIGTERM);
    }
    const int64_t wait = opt_.drain_timeout_ms + 10000;
    for (size_t i = 0; i < nannies_.size(); ++i) {
      auto& n = nannies_[i];
      if (n == nullptr) continue;
      if (!n->WaitExit(std::chrono::milliseconds(wait))) {
        Finding("nanny did not stop", names_[i] + ": still running " + std::to_string(wait) +
                                          " ms after SIGTERM; killing it");
        n->Signal(SIGKILL);
        n->WaitExit(std::chrono::milliseconds(5000));
      } else if (n->exit_code() != 0) {
        Finding("nanny did not stop cleanly", names_[i] + ": " + n->Describe());
      }
    }
    if (broker_up_) {
      broker_->Signal(SIGTERM);
      if (!broker_->WaitExit(std::chrono::milliseconds(kBrokerStopTimeoutMs))) {
        Finding("broker did not stop", "no exit after the final SIGTERM; killing it");
        broker_->Signal(SIGKILL);
        broker_->WaitExit(std::chrono::milliseconds(5000));
      } else if (broker_->exit_code() != 0) {
        Finding("broker SIGTERM: not a clean exit", "final stop: " + broker_->Describe());
      }
      broker_up_ = false;
    }
    for (auto& s : subs_) {
      if (s->child != nullptr && s->child->Running()) {
        s->child->Signal(SIGKILL);
        s->child->WaitExit(std::chrono::milliseconds(2000));
      }
    }
    run_end_wall_ = WallMs();
  }

  bool Abort(bool interrupted, std::string* error = nullptr) {
    if (interrupted && error != nullptr) *error = "interrupted";
    EndStops();
    for (auto& n : nannies_) {
      if (n != nullptr) n->Signal(SIGKILL);
    }
    if (broker_ != nullptr) broker_->Signal(SIGKILL);
    return false;
  }

  RunOptions opt_;
  std::string dir_, endpoint_, log_path_, db_path_;
  std::ofstream manifest_, faults_, findings_, stalls_;
  int stalls_count_ = 0;
  std::vector<TaskDef> main_;
  std::vector<PlannedFault> plan_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Child>> nannies_;
  std::unique_ptr<Child> broker_;
  bool broker_up_ = false;
  int broker_starts_ = 0;
  std::map<size_t, pid_t> stopped_;
  std::vector<Timer> timers_;
  std::vector<std::unique_ptr<Submission>> subs_;
  int waves_ = 0, next_wave_ = 0, acked_waves_ = 0;
  bool wave_in_flight_ = false;
  int client_batches_ = 0;
  double client_ms_ = 30;
  int64_t last_stuck_check_ = 0, broker_started_at_ = 0;
  std::vector<int64_t> unregistered_ms_;
  std::vector<pid_t> stuck_pid_;
  std::set<pid_t> reported_stuck_;
  std::vector<int64_t> no_child_since_;
  std::vector<bool> reported_childless_;  // how long a leaseq-submit usually takes (moving average)
  int injected_ = 0, skipped_ = 0;
  std::map<std::string, int64_t> counts_;
  bool counts_ok_ = false;
  int64_t last_counts_ = 0, next_progress_ = 0;
  int64_t window_start_ = 0, window_start_wall_ = 0, window_end_wall_ = 0, run_end_wall_ = 0;
};

}  // namespace

const std::vector<std::string>& AllFaultKinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> v;
    for (const auto& [k, w] : Weights()) v.push_back(k);
    return v;
  }();
  return kinds;
}

bool RunChaos(const RunOptions& opt, std::string* error) { return Runner(opt).Run(error); }

}  // namespace leaseq::chaos
