// Scenario: what one simulation run does, drawn from its seed: the cluster
// (workers, slots, nannies), the tasks with their planned outcomes, and the
// faults with their times. A run can keep only some of the faults (replay
// of a shrunk trace); everything else stays as the seed drew it.
// Pure data and a pure function of the seed; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace leaseq::sim {

// What a task's command does when it runs (its cmd is ["sim", kind, ms, key]).
enum class TaskKind {
  kOk,      // exits 0 after its duration
  kFail,    // exits 3 after its duration: failed after its retries
  kPoison,  // kills the worker that runs it: failed by suspicion
  kHang,    // never ends: stopped by its time limit, failed after its retries
};
const char* TaskKindName(TaskKind k);
bool ParseTaskKind(const std::string& s, TaskKind* out);

struct TaskPlan {
  std::string key;
  TaskKind kind = TaskKind::kOk;
  int64_t duration_ms = 0;
  int retries = 0;
  int64_t timeout_ms = 0;  // 0: none
  int batch = 0;           // the submission it is part of
};

struct BatchPlan {
  int64_t at_ms = 0;  // when the client sends it
};

enum class FaultKind {
  kKill,        // SIGKILL of a worker process (its nanny, if any, reports it)
  kDrain,       // SIGTERM: the worker drains and leaves; started again later
  kFreeze,      // SIGSTOP, SIGCONT after duration_ms
  kCut,         // a partition of one worker, healed after duration_ms
  kCutAll,      // every worker cut off at once
  kFlap,        // a worker's link down and up several times
  kBrokerCrash, // SIGKILL of the broker, restarted after duration_ms
  kClockStep,   // the broker host's wall clock steps by duration_ms (+ or -)
};
const char* FaultKindName(FaultKind k);

struct FaultPlan {
  int index = 0;  // in the seed's schedule (kept when a replay drops others)
  int64_t at_ms = 0;
  FaultKind kind = FaultKind::kKill;
  int worker = 0;           // the target, for worker faults
  int64_t duration_ms = 0;  // freeze, cut, broker down time; clock step size
};

struct Scenario {
  uint64_t seed = 0;
  int workers = 3;
  int slots = 2;
  int prefetch = -1;
  bool nannies = true;  // workers run under a nanny (lost notices, quick restarts)
  int heartbeat_ms = 200;
  int liveness = 3;
  int allowed_failures = 2;
  // Longer than any absence the faults below cause (cuts, freezes and a
  // broker restart together stay under 10 s).
  int64_t death_confirm_ms = 30000;
  int64_t drain_timeout_ms = 1000;
  std::vector<TaskPlan> tasks;
  std::vector<BatchPlan> batches;
  std::vector<FaultPlan> faults;  // in time order
  int64_t fault_window_ms = 0;    // faults happen before this
  int64_t deadline_ms = 0;        // the work must be settled by then
};

// The scenario of a seed. `size` scales the run: tasks and faults (1: the
// quick runs of ctest; larger for `make sim`).
Scenario MakeScenario(uint64_t seed, int size = 1);

// Keeps only the faults whose indexes are listed (for replay and shrinking).
Scenario WithFaults(const Scenario& s, const std::vector<int>& keep);

// One line per fault: "#3 t=1200ms cut w1 for 800ms".
std::string DescribeFault(const FaultPlan& f);

}  // namespace leaseq::sim
