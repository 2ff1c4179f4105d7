#include "cluster.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace leaseq::chaos {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kBrokerStopTimeoutMs = 15000;
constexpr int64_t kStuckMs = 20000;  // a live worker process unregistered this long is stuck
// After a broker start, a healthy worker is registered again within this time
// (its reconnect backoff is 2 s at most).
constexpr int64_t kReconnectGraceMs = 4000;

// The worker process a nanny runs now (0 if none): /proc/PID/task/PID/children.
pid_t NannyChild(pid_t nanny) {
  std::ifstream in("/proc/" + std::to_string(nanny) + "/task/" + std::to_string(nanny) + "/children");
  long long child = 0;
  in >> child;
  return static_cast<pid_t>(child);
}

int ProcFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace

Cluster::Cluster(const RunOptions& opt, Journal* journal) : opt_(opt), journal_(*journal) {
  for (int i = 0; i < opt_.workers; ++i) names_.push_back("w" + std::to_string(i));
  nannies_.resize(names_.size());
}

Cluster::~Cluster() { Kill(); }

bool Cluster::Setup(const std::string& db_path, std::string* error) {
  db_path_ = db_path;
  port_ = test_support::FreePort();
  if (port_ <= 0) {
    *error = "no free TCP port on 127.0.0.1";
    return false;
  }
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(port_);
  bind_ = endpoint_;
  if (opt_.net_faults) {
    std::string why;
    if (!test_support::NetnsLab::Available(&why)) {
      *error = "--net-faults: " + why;
      return false;
    }
    lab_ = std::make_unique<test_support::NetnsLab>(opt_.workers);
    if (!lab_->ok()) {
      *error = "--net-faults: cannot set up the network namespaces: " + lab_->error();
      return false;
    }
    // Clients reach it on the broker namespace's loopback, workers over
    // their veth; these addresses exist only inside the namespaces.
    bind_ = "tcp://*:" + std::to_string(port_);
  }
  return true;
}

bool Cluster::Launch(Child* c, const std::string& ns, const std::string& binary,
                     const std::vector<std::string>& args, const test_support::ChildOptions& o,
                     std::string* why) const {
  if (lab_ == nullptr) return c->Start(binary, args, o, why);
  // ip netns exec execs the binary: the pid is the program's own.
  return c->Start(test_support::NetnsLab::IpPath(), test_support::NetnsLab::In(ns, binary, args), o, why);
}

bool Cluster::StartClient(Child* c, const std::string& binary, const std::vector<std::string>& args,
                          const test_support::ChildOptions& o, std::string* why) const {
  return Launch(c, lab_ != nullptr ? lab_->broker_ns() : "", binary, args, o, why);
}

bool Cluster::StartBroker(std::string* error) {
  journal_.Mark("broker.log", "starting the broker (start #" + std::to_string(++broker_starts_) + ")");
  broker_ = std::make_unique<Child>();
  std::vector<std::string> args = {"--db", db_path_, "--bind", bind_, "--heartbeat-ms",
                                   std::to_string(opt_.heartbeat_ms), "--liveness", std::to_string(opt_.liveness),
                                   "--allowed-failures", std::to_string(opt_.allowed_failures)};
  if (lab_ != nullptr) args.push_back("--insecure");  // its addresses exist only inside the namespaces
  std::string why;
  if (!Launch(broker_.get(), lab_ != nullptr ? lab_->broker_ns() : "", opt_.bin + "/leaseq-broker", args,
              AppendTo("", journal_.LogPath("broker.log")), &why)) {
    if (error != nullptr) *error = "cannot start the broker: " + why;
    return false;
  }
  broker_up_ = true;
  broker_started_at_ = SteadyMs();
  return true;
}

pid_t Cluster::broker_pid() const { return broker_ != nullptr ? broker_->pid() : 0; }

void Cluster::StopBroker(int sig) {
  const bool term = sig == SIGTERM;
  broker_->Signal(sig);
  if (!broker_->WaitExit(std::chrono::milliseconds(kBrokerStopTimeoutMs))) {
    journal_.Finding("broker did not stop", "no exit " + std::to_string(kBrokerStopTimeoutMs) + " ms after " +
                                                (term ? "SIGTERM" : "SIGKILL") + "; killing it");
    broker_->Signal(SIGKILL);
    broker_->WaitExit(std::chrono::milliseconds(5000));
  } else if (term && broker_->exit_code() != 0) {
    journal_.Finding("broker SIGTERM: not a clean exit", broker_->Describe() + " (see logs/broker.log)");
  }
  broker_up_ = false;
}

void Cluster::StartNanny(size_t i) {
  const std::string& name = names_[i];
  const std::string broker = lab_ != nullptr
                                 ? "tcp://" + lab_->BrokerAddress(static_cast<int>(i)) + ":" + std::to_string(port_)
                                 : endpoint_;
  journal_.Mark("worker-" + name + ".log", "starting the nanny");
  auto c = std::make_unique<Child>();
  std::string why;
  if (!Launch(c.get(), lab_ != nullptr ? lab_->worker_ns(static_cast<int>(i)) : "", opt_.bin + "/leaseq-worker",
              {"--broker", broker, "--nanny", "--slots", std::to_string(opt_.slots), "--name", name,
               "--heartbeat-ms", std::to_string(opt_.heartbeat_ms), "--drain-timeout-ms",
               std::to_string(opt_.drain_timeout_ms)},
              AppendTo("", journal_.LogPath("worker-" + name + ".log")), &why)) {
    journal_.Finding("cannot start a nanny", name + ": " + why);
  }
  nannies_[i] = std::move(c);
}

int Cluster::Ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> all = {"--broker", endpoint_, "--timeout-ms", "300"};
  all.insert(all.end(), args.begin(), args.end());
  Child c;
  std::string why;
  if (!StartClient(&c, opt_.bin + "/leaseq-ctl", all, {}, &why)) return -1;
  if (!c.WaitExit(std::chrono::milliseconds(5000))) return -1;
  return c.exit_code();
}

void Cluster::Cut(size_t i) {
  if (lab_ != nullptr) lab_->Cut(static_cast<int>(i));
}

void Cluster::Heal(size_t i) {
  if (lab_ != nullptr) lab_->Heal(static_cast<int>(i));
}

bool Cluster::Watch(std::vector<size_t>* restarted) {
  bool broker_died = false;
  if (broker_up_ && !broker_->Running()) {
    journal_.Finding("broker exited by itself", broker_->Describe() + " (see logs/broker.log); restarting it");
    broker_up_ = false;
    broker_died = true;
  }
  for (size_t i = 0; i < nannies_.size(); ++i) {
    if (nannies_[i] != nullptr && !nannies_[i]->Running()) {
      journal_.Finding("nanny exited", names_[i] + ": " + nannies_[i]->Describe() + "; restarting it");
      restarted->push_back(i);
      StartNanny(i);
    }
  }
  return broker_died;
}

void Cluster::Stop() {
  for (auto& n : nannies_) {
    if (n != nullptr) n->Signal(SIGTERM);
  }
  const int64_t wait = opt_.drain_timeout_ms + 10000;
  for (size_t i = 0; i < nannies_.size(); ++i) {
    auto& n = nannies_[i];
    if (n == nullptr) continue;
    if (!n->WaitExit(std::chrono::milliseconds(wait))) {
      journal_.Finding("nanny did not stop",
                       names_[i] + ": still running " + std::to_string(wait) + " ms after SIGTERM; killing it");
      n->Signal(SIGKILL);
      n->WaitExit(std::chrono::milliseconds(5000));
    } else if (n->exit_code() != 0) {
      journal_.Finding("nanny did not stop cleanly", names_[i] + ": " + n->Describe());
    }
  }
  if (broker_up_) {
    broker_->Signal(SIGTERM);
    if (!broker_->WaitExit(std::chrono::milliseconds(kBrokerStopTimeoutMs))) {
      journal_.Finding("broker did not stop", "no exit after the final SIGTERM; killing it");
      broker_->Signal(SIGKILL);
      broker_->WaitExit(std::chrono::milliseconds(5000));
    } else if (broker_->exit_code() != 0) {
      journal_.Finding("broker SIGTERM: not a clean exit", "final stop: " + broker_->Describe());
    }
    broker_up_ = false;
  }
}

void Cluster::Kill() {
  for (auto& n : nannies_) {
    if (n != nullptr) n->Signal(SIGKILL);
  }
  if (broker_ != nullptr) broker_->Signal(SIGKILL);
}

template <typename F>
bool Cluster::Query(const std::string& sql, F&& each_row, const std::function<void(SQLite::Statement&)>& bind) {
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

int Cluster::AliveWorkers() {
  int n = 0;
  Query("SELECT count(*) FROM workers WHERE state = 'alive'", [&](SQLite::Statement& q) { n = q.getColumn(0).getInt(); });
  return n;
}

void Cluster::ReadCounts() {
  std::map<std::string, int64_t> c;
  counts_ok_ = Query("SELECT state, n FROM task_state_counts",
                     [&](SQLite::Statement& q) { c[q.getColumn(0).getString()] = q.getColumn(1).getInt64(); });
  if (counts_ok_) counts_ = c;
  last_counts_ = SteadyMs();
}

void Cluster::InvalidateCounts() {
  last_counts_ = 0;
  counts_ok_ = false;
}

int64_t Cluster::Count(const std::string& s) const {
  auto it = counts_.find(s);
  return it == counts_.end() ? 0 : it->second;
}

int64_t Cluster::Unfinished() const { return Count("waiting") + Count("queued") + Count("running"); }

std::string Cluster::CountsText() const {
  std::string s;
  for (const auto& [k, v] : counts_) s += (s.empty() ? "" : " ") + k + "=" + std::to_string(v);
  return s;
}

pid_t Cluster::WorkerPid(size_t i) {
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

bool Cluster::IsOurWorker(size_t i, pid_t pid) const {
  pid_t ppid = 0;
  char state = '?';
  return ProcStat(pid, &ppid, &state) && nannies_[i] != nullptr && ppid == nannies_[i]->pid();
}

// Counted only from kReconnectGraceMs after each broker start (a healthy
// worker is back by then), summed over restarts, reported once per process
// at kStuckMs.
void Cluster::CheckStuckWorkers(const std::function<bool(size_t)>& excused) {
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
      journal_.Finding("nanny not restarting its worker", names_[i] + ": no worker process for " +
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
    if (!broker_settled || excused(i)) continue;
    unregistered_ms_[i] += elapsed;
    if (unregistered_ms_[i] >= kStuckMs && reported_stuck_.insert(child).second) {
      journal_.Finding("worker stuck", names_[i] + ": process " + std::to_string(child) +
                                           " alive but unregistered for " + std::to_string(unregistered_ms_[i] / 1000) +
                                           " s while the broker was up (" + std::to_string(ProcFds(child)) +
                                           " open fds; see logs/worker-" + names_[i] + ".log, around " +
                                           journal_.Rel() + ")");
    }
  }
}

}  // namespace leaseq::chaos
