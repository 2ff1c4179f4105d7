// Faults: the seeded schedule of a chaos run and its injection. Signals to
// workers (SIGKILL, SIGTERM, SIGSTOP then SIGCONT), the broker SIGKILLed or
// SIGTERMed and restarted, a leaseq-submit killed half-way, and with
// --net-faults a worker's link cut, every link cut, or a link flapping, each
// healed after a short random time. Everything about a fault (its time, kind,
// victim, durations) comes from the seed; what it meets (which task runs
// where) does not. Each is written to faults.jsonl before it is done, and so
// is its end (a SIGCONT, a restart, a heal). Not thread-safe: the runner's
// one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster.h"
#include "journal.h"
#include "runner.h"
#include "submissions.h"

namespace leaseq::chaos {

class Faults {
 public:
  // Plans the schedule from the seed.
  Faults(const RunOptions& opt, Cluster* cluster, Submissions* subs, Journal* journal);

  size_t planned() const { return plan_.size(); }
  // Injects every planned fault due by now_ms (steady) in a window that
  // started at window_start_ms (steady).
  void InjectDue(int64_t window_start_ms, int64_t now_ms);
  // Runs the ends of faults that are due (SIGCONTs, restarts, heals...).
  void RunTimers();
  bool Idle() const { return timers_.empty(); }
  // After the window: every frozen worker thawed and every link healed now,
  // the broker restarted and resubmissions made at the next RunTimers().
  void EndAll();
  // The broker died by itself: started again in in_ms.
  void RestartBrokerIn(int64_t in_ms);
  // Worker i's nanny was restarted: forget what we froze there.
  void Forget(size_t i) { stopped_.erase(i); }
  // Worker i is frozen or cut off by us (it cannot register).
  bool Excused(size_t i) const { return stopped_.count(i) != 0 || cut_.count(i) != 0; }

 private:
  struct Planned {
    int64_t at_ms = 0;  // from the start of the window
    std::string kind;
    uint64_t seed = 0;  // everything else about it (victim, pause, batch) comes from here
  };
  struct Timer {
    int64_t at = 0;  // steady ms
    std::function<void()> run;
  };

  void Schedule();
  void Inject(const Planned& f);
  void Skip(const Planned& f, const std::string& why);
  void SignalWorker(const Planned& f, Rng& rng);
  void SignalBroker(const Planned& f, Rng& rng);
  void NetFault(const Planned& f, Rng& rng);
  using FlapPlan = std::vector<std::pair<int64_t, int64_t>>;  // (down, up) ms, per cycle
  void FlapStep(size_t i, int id, std::shared_ptr<const FlapPlan> steps, size_t k);
  bool CutBy(size_t i, int id) const;
  void Cont(size_t i, pid_t pid);
  void RestartBroker();
  void Heal(const std::vector<size_t>& links, int id);
  void After(int64_t ms, std::function<void()> run) { timers_.push_back({SteadyMs() + ms, std::move(run)}); }

  const RunOptions& opt_;
  Cluster& cluster_;
  Submissions& subs_;
  Journal& journal_;
  std::vector<Planned> plan_;
  size_t next_ = 0;
  std::map<size_t, pid_t> stopped_;
  std::map<size_t, int> cut_;  // worker -> the id of the network fault that cut its link
  int net_ids_ = 0;
  std::vector<Timer> timers_;
};

}  // namespace leaseq::chaos
