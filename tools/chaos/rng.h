// A small seeded random generator (SplitMix64) with its own helpers, so that
// a chaos run is the same from the same seed whatever the standard library's
// distributions do.
#pragma once

#include <cstdint>

namespace leaseq::chaos {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (hi >= lo).
  int64_t Uniform(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(Next() % span);
  }
  // True with probability p.
  bool Chance(double p) { return Unit() < p; }
  // In [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  // An independent generator for a sub-stream (e.g. one per fault).
  Rng Fork() { return Rng(Next()); }

 private:
  uint64_t state_;
};

}  // namespace leaseq::chaos
