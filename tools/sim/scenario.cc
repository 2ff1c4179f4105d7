// Scenario: drawing a run from a seed.
#include "scenario.h"

#include <algorithm>

#include "../chaos/rng.h"

namespace leaseq::sim {

const char* TaskKindName(TaskKind k) {
  switch (k) {
    case TaskKind::kOk: return "ok";
    case TaskKind::kFail: return "fail";
    case TaskKind::kPoison: return "poison";
    case TaskKind::kHang: return "hang";
  }
  return "?";
}

bool ParseTaskKind(const std::string& s, TaskKind* out) {
  for (TaskKind k : {TaskKind::kOk, TaskKind::kFail, TaskKind::kPoison, TaskKind::kHang}) {
    if (s == TaskKindName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

const char* FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kKill: return "kill";
    case FaultKind::kDrain: return "drain";
    case FaultKind::kFreeze: return "freeze";
    case FaultKind::kCut: return "cut";
    case FaultKind::kCutAll: return "cut-all";
    case FaultKind::kFlap: return "flap";
    case FaultKind::kBrokerCrash: return "broker-crash";
    case FaultKind::kClockStep: return "clock-step";
  }
  return "?";
}

Scenario MakeScenario(uint64_t seed, int size) {
  chaos::Rng rng(seed);
  Scenario s;
  s.seed = seed;
  s.workers = static_cast<int>(rng.Uniform(2, 4));
  s.slots = static_cast<int>(rng.Uniform(1, 3));
  s.prefetch = rng.Chance(0.5) ? -1 : 0;
  s.nannies = rng.Chance(0.7);
  s.allowed_failures = static_cast<int>(rng.Uniform(1, 3));

  const int batches = static_cast<int>(rng.Uniform(1, 3));
  for (int b = 0; b < batches; ++b) s.batches.push_back({b == 0 ? 0 : rng.Uniform(0, 3000 * size)});
  const int tasks = static_cast<int>(rng.Uniform(8, 24) * size);
  for (int i = 0; i < tasks; ++i) {
    TaskPlan t;
    t.key = "k" + std::to_string(i);
    const int64_t roll = rng.Uniform(0, 99);
    t.kind = roll < 80 ? TaskKind::kOk : roll < 90 ? TaskKind::kFail : roll < 96 ? TaskKind::kHang
                                                                                 : TaskKind::kPoison;
    t.duration_ms = rng.Chance(0.3) ? rng.Uniform(0, 5) : rng.Uniform(50, 1500);
    t.retries = static_cast<int>(rng.Uniform(0, 2));
    if (t.kind == TaskKind::kHang) {
      t.timeout_ms = rng.Uniform(300, 2000);
    } else if (rng.Chance(0.1)) {
      t.timeout_ms = t.duration_ms + rng.Uniform(300, 2000);  // a limit it keeps
    }
    t.batch = static_cast<int>(rng.Uniform(0, batches - 1));
    s.tasks.push_back(t);
  }

  s.fault_window_ms = 6000 * size;
  const int faults = static_cast<int>(rng.Uniform(2, 8) * size);
  for (int i = 0; i < faults; ++i) {
    FaultPlan f;
    f.at_ms = rng.Uniform(100, s.fault_window_ms);
    f.worker = static_cast<int>(rng.Uniform(0, s.workers - 1));
    const int64_t roll = rng.Uniform(0, 99);
    if (roll < 22) {
      f.kind = FaultKind::kKill;
    } else if (roll < 34) {
      f.kind = FaultKind::kDrain;
    } else if (roll < 50) {
      f.kind = FaultKind::kFreeze;
      f.duration_ms = rng.Chance(0.5) ? rng.Uniform(50, 500) : rng.Uniform(500, 3000);
    } else if (roll < 66) {
      f.kind = FaultKind::kCut;
      f.duration_ms = rng.Uniform(100, 3000);
    } else if (roll < 72) {
      f.kind = FaultKind::kCutAll;
      f.duration_ms = rng.Uniform(100, 2500);
    } else if (roll < 78) {
      f.kind = FaultKind::kFlap;
      f.duration_ms = rng.Uniform(500, 2000);
    } else if (roll < 94) {
      f.kind = FaultKind::kBrokerCrash;
      f.duration_ms = rng.Uniform(50, 2000);
    } else {
      f.kind = FaultKind::kClockStep;
      f.duration_ms = rng.Chance(0.5) ? 3'600'000 : -3'600'000;
    }
    s.faults.push_back(f);
  }
  std::stable_sort(s.faults.begin(), s.faults.end(),
                   [](const FaultPlan& a, const FaultPlan& b) { return a.at_ms < b.at_ms; });
  for (size_t i = 0; i < s.faults.size(); ++i) s.faults[i].index = static_cast<int>(i);
  s.deadline_ms = s.fault_window_ms + 120'000;
  return s;
}

Scenario WithFaults(const Scenario& s, const std::vector<int>& keep) {
  Scenario out = s;
  out.faults.clear();
  for (int i : keep) {
    if (i >= 0 && i < static_cast<int>(s.faults.size())) out.faults.push_back(s.faults[i]);
  }
  return out;
}

std::string DescribeFault(const FaultPlan& f) {
  std::string line = "#" + std::to_string(f.index) + " t=" + std::to_string(f.at_ms) + "ms " +
                     FaultKindName(f.kind);
  switch (f.kind) {
    case FaultKind::kKill:
    case FaultKind::kDrain:
      line += " w" + std::to_string(f.worker);
      break;
    case FaultKind::kFreeze:
    case FaultKind::kCut:
    case FaultKind::kFlap:
      line += " w" + std::to_string(f.worker) + " for " + std::to_string(f.duration_ms) + "ms";
      break;
    case FaultKind::kCutAll:
    case FaultKind::kBrokerCrash:
      line += " for " + std::to_string(f.duration_ms) + "ms";
      break;
    case FaultKind::kClockStep:
      line += " by " + std::to_string(f.duration_ms) + "ms";
      break;
  }
  return line;
}

}  // namespace leaseq::sim
