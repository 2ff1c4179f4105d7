// AnswerSpin: whether the broker's loop polls without sleeping for a while
// after a pass that answered someone (a reply, tasks, an ack), before it
// blocks.
//
// Waking a thread that sleeps costs about 35 us on a VM (an eventfd round
// trip between two threads: 75 us sleeping, 2.5 us spinning). When the
// answer's own answer (the client's next request, the worker's result)
// comes within kWindow, spinning saves that wake-up on the request's path:
// leaseq-bench-latency's p50 went from 0.99 to 0.74 ms. When it comes
// later (a worker that runs real commands), the spin only burns a core
// that the commands need: with a fixed spin, 10,000 /bin/true tasks on
// 2 x 4 slots took 60% more broker CPU and ran 13% slower. So
// the loop spins only while most recent answers came back within the
// window, judged from the spins themselves and, while it does not spin,
// from how soon its blocking poll returned.
// Pure; not thread-safe (the loop's thread alone uses it).
#pragma once

#include <chrono>

namespace leaseq {

class AnswerSpin {
 public:
  static constexpr std::chrono::microseconds kWindow{300};

  // Spin after this pass (it answered someone)?
  bool ShouldSpin() const { return score_ >= kOn; }
  // After a pass that answered: whether the next message came within
  // kWindow of the pass's end (caught by the spin, or by the blocking poll).
  void Observe(bool within_window) {
    score_ = within_window ? (score_ < kMax ? score_ + 1 : kMax) : (score_ > 0 ? score_ - 1 : 0);
  }

 private:
  // A saturating count: +1 for an answer within the window, -1 for one
  // later; spinning while it is at least kOn, i.e. while more than half
  // of the recent answers came back in time.
  static constexpr int kMax = 8, kOn = 4;
  int score_ = kMax;
};

}  // namespace leaseq
