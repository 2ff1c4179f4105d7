#include "faults.h"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <thread>

#include "rng.h"
#include "workdir.h"

namespace leaseq::chaos {

namespace {

using nlohmann::json;

// Relative weights of the fault kinds in the schedule. The network's come
// last: without --net-faults the schedule of a seed is what it always was.
const std::vector<std::pair<std::string, int>>& Weights() {
  static const std::vector<std::pair<std::string, int>> w = {
      {files::kWorkerKill, 25}, {files::kWorkerTerm, 15}, {files::kWorkerStop, 20}, {files::kBrokerKill, 10},
      {files::kBrokerTerm, 8},  {files::kClientKill, 22}, {files::kNetCut, 12},     {files::kNetCutAll, 5},
      {files::kNetFlap, 8}};
  return w;
}

}  // namespace

const std::vector<std::string>& AllFaultKinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> v;
    for (const auto& [k, w] : Weights()) v.push_back(k);
    return v;
  }();
  return kinds;
}

bool IsNetFault(const std::string& kind) {
  return kind == files::kNetCut || kind == files::kNetCutAll || kind == files::kNetFlap;
}

Faults::Faults(const RunOptions& opt, Cluster* cluster, Submissions* subs, Journal* journal)
    : opt_(opt), cluster_(*cluster), subs_(*subs), journal_(*journal) {
  Schedule();
}

void Faults::Schedule() {
  Rng rng(opt_.seed ^ 0xfa0175c4ed01e5ULL);
  std::vector<std::pair<std::string, int>> kinds;
  int total = 0;
  for (const auto& [k, w] : Weights()) {
    if (!opt_.fault_kinds.empty() &&
        std::find(opt_.fault_kinds.begin(), opt_.fault_kinds.end(), k) == opt_.fault_kinds.end()) {
      continue;
    }
    if (IsNetFault(k) && !opt_.net_faults) continue;
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

void Faults::InjectDue(int64_t window_start_ms, int64_t now_ms) {
  while (next_ < plan_.size() && window_start_ms + plan_[next_].at_ms <= now_ms) Inject(plan_[next_++]);
}

void Faults::RunTimers() {
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
}

void Faults::Skip(const Planned& f, const std::string& why) {
  journal_.FaultRecord({{"t", WallMs()}, {"kind", f.kind}, {"skipped", why}});
  journal_.Skipped();
}

void Faults::Inject(const Planned& f) {
  Rng rng(f.seed);
  if (f.kind == files::kWorkerKill || f.kind == files::kWorkerTerm || f.kind == files::kWorkerStop) {
    return SignalWorker(f, rng);
  }
  if (f.kind == files::kBrokerKill || f.kind == files::kBrokerTerm) return SignalBroker(f, rng);
  if (IsNetFault(f.kind)) return NetFault(f, rng);
  if (f.kind == files::kClientKill) {
    int64_t resubmit_in = 0;
    const std::string batch = subs_.StartClientToKill(rng, &resubmit_in);
    if (resubmit_in > 0) After(resubmit_in, [this, batch] { subs_.Resubmit(batch); });
  }
}

void Faults::SignalWorker(const Planned& f, Rng& rng) {
  const size_t n = cluster_.size();
  const size_t start = static_cast<size_t>(rng.Uniform(0, opt_.workers - 1));
  const int64_t pause = rng.Uniform(100, 4000);
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (f.kind == files::kWorkerStop && stopped_.count(i) != 0) continue;
    const pid_t pid = cluster_.WorkerPid(i);
    if (pid <= 0) continue;
    const int sig = f.kind == files::kWorkerKill ? SIGKILL : f.kind == files::kWorkerTerm ? SIGTERM : SIGSTOP;
    const int64_t t = WallMs();
    json rec = {{"t", t}, {"kind", f.kind}, {"target", cluster_.name(i)}, {"pid", pid}};
    if (sig == SIGSTOP) rec["end"] = t + pause;
    journal_.FaultRecord(rec);  // before the signal: the checker's window starts here
    kill(pid, sig);
    journal_.Injected();
    journal_.Mark("worker-" + cluster_.name(i) + ".log", f.kind + " pid " + std::to_string(pid));
    if (sig == SIGSTOP) {
      stopped_[i] = pid;
      After(pause, [this, i, pid] { Cont(i, pid); });
    }
    if (sig == SIGKILL) stopped_.erase(i);
    return;
  }
  Skip(f, "no live worker");
}

void Faults::SignalBroker(const Planned& f, Rng& rng) {
  if (!cluster_.broker_up()) return Skip(f, "the broker is down");
  const bool term = f.kind == files::kBrokerTerm;
  const int64_t down = rng.Uniform(0, 2000);
  if (term) {
    // A broker started a moment ago (a restart; with --net-faults through
    // ip netns exec) may not read SIGTERM yet: the signal would end it
    // before it could exit cleanly. Wait (2 s at most) until it does.
    const int64_t deadline = SteadyMs() + 2000;
    while (!BlocksSignal(cluster_.broker_pid(), SIGTERM) && SteadyMs() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  journal_.FaultRecord({{"t", WallMs()}, {"kind", f.kind}, {"target", "broker"}, {"pid", cluster_.broker_pid()}});
  journal_.Mark("broker.log", f.kind);
  journal_.Injected();
  cluster_.StopBroker(term ? SIGTERM : SIGKILL);
  After(down, [this] { RestartBroker(); });
}

// A cut is the broker's end of the worker's veth set down: the worker's
// packets are dropped and nothing errors (tools/testing/netns.h). The
// record is written before the cut and the heal's after the heal, so the
// checker's window covers the whole partition.
void Faults::NetFault(const Planned& f, Rng& rng) {
  const size_t n = cluster_.size();
  const int64_t now = WallMs();
  if (f.kind == files::kNetCutAll) {
    if (!cut_.empty()) return Skip(f, "a link is already cut");
    const int64_t down = rng.Uniform(300, 4000);
    const int id = ++net_ids_;
    std::vector<size_t> all;
    for (size_t i = 0; i < n; ++i) all.push_back(i);
    journal_.FaultRecord({{"t", now}, {"kind", f.kind}, {"target", "all"}, {"id", id}, {"end", now + down}});
    for (size_t i : all) {
      cluster_.Cut(i);
      cut_[i] = id;
      journal_.Mark("worker-" + cluster_.name(i) + ".log", f.kind + " (every link cut)");
    }
    journal_.Mark("broker.log", f.kind + " (every link cut)");
    journal_.Injected();
    After(down, [this, all, id] { Heal(all, id); });
    return;
  }
  const size_t start = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(n) - 1));
  size_t i = n;
  for (size_t k = 0; k < n && i == n; ++k) {
    if (cut_.count((start + k) % n) == 0) i = (start + k) % n;
  }
  if (i == n) return Skip(f, "every link is cut already");
  const int id = ++net_ids_;
  const std::string log = "worker-" + cluster_.name(i) + ".log";
  if (f.kind == files::kNetCut) {
    const int64_t down = rng.Uniform(200, 5000);
    journal_.FaultRecord({{"t", now},
                          {"kind", f.kind},
                          {"target", cluster_.name(i)},
                          {"pid", cluster_.WorkerPid(i)},
                          {"id", id},
                          {"end", now + down}});
    cluster_.Cut(i);
    cut_[i] = id;
    journal_.Mark(log, f.kind + " (link cut for " + std::to_string(down) + " ms)");
    journal_.Injected();
    After(down, [this, i, id] { Heal({i}, id); });
    return;
  }
  // A flap: down and up several times quickly, then healed for good.
  const int cycles = static_cast<int>(rng.Uniform(3, 6));
  auto steps = std::make_shared<FlapPlan>();
  int64_t total = 0;
  for (int c = 0; c < cycles; ++c) {
    steps->push_back({rng.Uniform(50, 800), rng.Uniform(50, 400)});
    total += steps->back().first + (c + 1 < cycles ? steps->back().second : 0);
  }
  journal_.FaultRecord({{"t", now},
                        {"kind", f.kind},
                        {"target", cluster_.name(i)},
                        {"pid", cluster_.WorkerPid(i)},
                        {"id", id},
                        {"cycles", cycles},
                        {"end", now + total}});
  cluster_.Cut(i);
  cut_[i] = id;
  journal_.Mark(log, f.kind + " (" + std::to_string(cycles) + " times down, over " + std::to_string(total) + " ms)");
  journal_.Injected();
  FlapStep(i, id, steps, 0);
}

// Step k of a flap: the link is down; after its down time it comes up (or is
// healed for good after the last step), and after its up time goes down
// again. A flap healed meanwhile (the window ended) stops.
void Faults::FlapStep(size_t i, int id, std::shared_ptr<const FlapPlan> steps, size_t k) {
  After((*steps)[k].first, [this, i, id, steps, k] {
    if (!CutBy(i, id)) return;
    if (k + 1 == steps->size()) return Heal({i}, id);
    cluster_.Heal(i);
    journal_.Mark("worker-" + cluster_.name(i) + ".log", "net-flap: link up");
    After((*steps)[k].second, [this, i, id, steps, k] {
      if (!CutBy(i, id)) return;
      cluster_.Cut(i);
      journal_.Mark("worker-" + cluster_.name(i) + ".log", "net-flap: link down");
      FlapStep(i, id, steps, k + 1);
    });
  });
}

bool Faults::CutBy(size_t i, int id) const {
  auto it = cut_.find(i);
  return it != cut_.end() && it->second == id;
}

void Faults::Heal(const std::vector<size_t>& links, int id) {
  bool healed = false;
  for (size_t i : links) {
    auto it = cut_.find(i);
    if (it == cut_.end() || it->second != id) continue;
    cluster_.Heal(i);
    cut_.erase(it);
    healed = true;
    journal_.Mark("worker-" + cluster_.name(i) + ".log", "link healed");
  }
  if (!healed) return;
  journal_.FaultRecord({{"t", WallMs()},
                        {"kind", files::kNetHeal},
                        {"target", links.size() == 1 ? cluster_.name(links.front()) : std::string("all")},
                        {"id", id}});
}

void Faults::Cont(size_t i, pid_t pid) {
  auto it = stopped_.find(i);
  if (it == stopped_.end() || it->second != pid) return;  // killed meanwhile
  stopped_.erase(it);
  if (!cluster_.IsOurWorker(i, pid)) return;
  journal_.FaultRecord({{"t", WallMs()}, {"kind", files::kWorkerCont}, {"target", cluster_.name(i)}, {"pid", pid}});
  kill(pid, SIGCONT);
}

void Faults::RestartBroker() {
  if (cluster_.broker_up()) return;
  journal_.FaultRecord({{"t", WallMs()}, {"kind", files::kBrokerStart}, {"target", "broker"}});
  std::string why;
  if (!cluster_.StartBroker(&why)) journal_.Finding("cannot restart the broker", why);
}

void Faults::RestartBrokerIn(int64_t in_ms) {
  After(in_ms, [this] { RestartBroker(); });
}

void Faults::EndAll() {
  std::vector<std::pair<size_t, pid_t>> all(stopped_.begin(), stopped_.end());
  for (const auto& [i, pid] : all) Cont(i, pid);
  std::map<int, std::vector<size_t>> cuts;  // id -> links
  for (const auto& [i, id] : cut_) cuts[id].push_back(i);
  for (const auto& [id, links] : cuts) Heal(links, id);
  const int64_t now = SteadyMs();
  for (auto& t : timers_) t.at = std::min(t.at, now);  // restarts, resubmissions now
}

}  // namespace leaseq::chaos
