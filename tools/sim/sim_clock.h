// SimClock: the simulation's one clock. Time moves only when the simulation
// advances it; every core (broker, workers) reads it through leaseq::Clock.
// The wall clock can be stepped (an NTP step, a suspended VM's return)
// without the steady clock moving, as on a real host.
// Not thread-safe (the simulation is single-threaded).
#pragma once

#include <cstdint>

#include "common/clock.h"

namespace leaseq::sim {

class SimClock final : public Clock {
 public:
  // Wall time at the start of every run: runs do not depend on today's date.
  static constexpr int64_t kEpochMs = 1'800'000'000'000;

  int64_t WallMs() const override { return kEpochMs + now_ + wall_offset_; }
  int64_t SteadyMs() const override { return now_; }
  // Simulated milliseconds since the start.
  int64_t now() const { return now_; }
  void AdvanceTo(int64_t t) {
    if (t > now_) now_ = t;
  }
  void StepWall(int64_t ms) { wall_offset_ += ms; }

 private:
  int64_t now_ = 0;
  int64_t wall_offset_ = 0;
};

}  // namespace leaseq::sim
