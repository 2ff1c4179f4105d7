// AdaptivePrefetch: how many tasks a worker without --prefetch holds beyond
// its slots, from how long its recent attempts ran. The worker core feeds it
// the run time of every attempt that ends and, on every step, how many of
// its running attempts have run longer than LongAfterMs(); it announces
// value() to the broker (`ready`) whenever Update() says it changed.
//
// The rule (README, "--prefetch"; docs/benchmarks.md, "Adaptive prefetch"):
//  - What it holds unstarted is about kBudgetMs of work per slot: prefetch
//    = free slots x kBudgetMs / mean, the mean being that of the last
//    kWindow run times (the expected work of one more held task), "free"
//    slots those not taken by a long attempt. Short tasks get a deep
//    prefetch, so that each broker pass and each commit serves many of
//    them; long ones little or none, so that a held task does not wait on
//    a busy worker while another could run it. The most a held task waits
//    is about kBudgetMs, whatever the tasks.
//  - An attempt that runs longer than LongAfterMs() (4x the budget, and
//    4x the mean) is long before it ends: it takes its slot out of the
//    count at once. When every slot runs a long one, the prefetch is 0
//    (and the worker hands back what it holds).
//  - Clamped to [0, MaxFor(slots)]. Before the first run time it is 0:
//    nothing is known yet, and a worker that holds nothing hands nothing
//    back (a fresh worker sent long tasks would otherwise hold some, then
//    release them: churn, and each release is an attempt more). Short
//    tasks raise it after their first results, one round trip later.
//  - Hysteresis: value() moves only when the computed figure is at least
//    twice it or below half of it, so that noise does not send a `ready`
//    per task; a long task (figure 0) always passes.
// Pure: no clock (run times and counts are given), no I/O. Not thread-safe
// (one per worker core, on its thread).
#pragma once

#include <array>
#include <cstdint>

namespace leaseq::worker {

class AdaptivePrefetch {
 public:
  // Work held unstarted per slot that the prefetch aims at, in ms: far more
  // than a round trip to a busy broker (a pass takes 1-2 ms), and a wait a
  // held task can afford.
  static constexpr int64_t kBudgetMs = 25;
  // Run times the mean is taken over.
  static constexpr int kWindow = 32;
  // The most it ever holds beyond `slots` slots: 64 per slot (a `tasks`
  // frame's 64 items each), at most 1024.
  static int MaxFor(int slots);

  explicit AdaptivePrefetch(int slots);

  // An attempt ended after running duration_ms (from its start on this
  // worker to its end; negative is taken as 0).
  void Finished(int64_t duration_ms);
  // An attempt running longer than this (ms) is long.
  int64_t LongAfterMs() const;
  // Recomputes with `long_running` of the running attempts past
  // LongAfterMs(); true when value() changed.
  bool Update(int long_running);
  // The prefetch to hold (and to announce).
  int value() const { return value_; }
  // The mean of the window (0 with no run time yet), for logs and tests.
  double MeanMs() const;

 private:
  // The figure before clamping and hysteresis (may be huge: a mean of 0).
  double Figure(int long_running) const;

  int slots_;
  int max_;
  int value_;
  std::array<int64_t, kWindow> window_{};
  int count_ = 0;  // run times in the window (up to kWindow)
  int next_ = 0;   // where the next one goes
  int64_t sum_ = 0;
};

}  // namespace leaseq::worker
