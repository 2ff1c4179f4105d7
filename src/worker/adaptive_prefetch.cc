#include "worker/adaptive_prefetch.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace leaseq::worker {

int AdaptivePrefetch::MaxFor(int slots) {
  return static_cast<int>(std::min<int64_t>(int64_t{64} * std::max(slots, 1), 1024));
}

AdaptivePrefetch::AdaptivePrefetch(int slots)
    : slots_(std::max(slots, 1)), max_(MaxFor(slots)), value_(0) {}

void AdaptivePrefetch::Finished(int64_t duration_ms) {
  duration_ms = std::max<int64_t>(0, duration_ms);
  if (count_ == kWindow) {
    sum_ -= window_[next_];
  } else {
    ++count_;
  }
  window_[next_] = duration_ms;
  sum_ += duration_ms;
  next_ = (next_ + 1) % kWindow;
}

double AdaptivePrefetch::MeanMs() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_;
}

int64_t AdaptivePrefetch::LongAfterMs() const {
  // 4x the budget: a task of about the budget is not long, nor one slowed
  // down a while on a busy machine; and 4x the mean: tasks that are all
  // about as long as this do not count as long one after the other as they
  // run (the mean already holds them back).
  return std::max<int64_t>(4 * kBudgetMs, static_cast<int64_t>(std::ceil(4 * MeanMs())));
}

double AdaptivePrefetch::Figure(int long_running) const {
  const int free_slots = std::max(0, slots_ - std::max(0, long_running));
  if (free_slots == 0) return 0;
  const double mean = MeanMs();
  if (mean <= 0) return std::numeric_limits<double>::infinity();
  return free_slots * static_cast<double>(kBudgetMs) / mean;
}

bool AdaptivePrefetch::Update(int long_running) {
  // No run time yet: nothing to go by.
  if (count_ == 0) return false;
  const double figure = Figure(long_running);
  const bool up = figure >= 2.0 * std::max(value_, 1);
  const bool down = figure < value_ / 2.0;
  if (!up && !down) return false;
  const int next = figure >= max_ ? max_ : static_cast<int>(figure);
  if (next == value_) return false;
  value_ = next;
  return true;
}

}  // namespace leaseq::worker
