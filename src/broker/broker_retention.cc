// Broker: --retain. Finished tasks (done, failed, cancelled) that ended
// longer ago than the retention are purged, one small batch per pass: every
// pass when the broker is idle, at most every kBusyIntervalMs when it is
// not, so dispatch never waits behind a purge. A sweep over the three states
// repeats every kSweepIntervalMs.
#include <array>
#include <cstdio>

#include "broker/broker.h"

namespace leaseq {

namespace {
// As a purge request's batch (broker_ops.cc): a few ms of the loop.
constexpr int kRetainBatch = 100;
constexpr int kVacuumPages = 200;
constexpr int64_t kBusyIntervalMs = 100;
constexpr int64_t kSweepIntervalMs = 1000;
constexpr std::array<TaskState, 3> kFinished = {TaskState::kDone, TaskState::kFailed,
                                                TaskState::kCancelled};
}  // namespace

bool Broker::RetentionDue() const {
  return options_.retain_ms > 0 && clock_->SteadyMs() >= retention_.next_sweep_ms;
}

void Broker::RetainStep(bool idle) {
  if (!RetentionDue()) return;
  const int64_t now = clock_->SteadyMs();
  if (!idle && now - retention_.last_batch_ms < kBusyIntervalMs) return;
  retention_.last_batch_ms = now;
  if (!retention_.cursor_set) {
    retention_.cursor = ScanCursor();
    retention_.cursor.bound = clock_->WallMs() - options_.retain_ms;
    retention_.cursor_set = true;
  }
  int64_t deleted = 0;
  bool more = false;
  Status s = store_->Purge(ToText(kFinished[retention_.state]), "", kRetainBatch,
                           &retention_.cursor, &deleted, &more);
  if (s.ok() && deleted > 0) s = store_->ReclaimFreePages(kVacuumPages);
  CheckStatus(s);
  if (!s.ok()) {
    retention_.next_sweep_ms = now + kSweepIntervalMs;  // after a store error: later
    return;
  }
  retention_.swept += deleted;
  if (more) return;
  retention_.cursor_set = false;
  if (++retention_.state < kFinished.size()) return;
  retention_.state = 0;
  retention_.next_sweep_ms = now + kSweepIntervalMs;
  if (retention_.swept > 0) {
    std::fprintf(stderr, "leaseq-broker: --retain: purged %lld finished task(s)\n",
                 static_cast<long long>(retention_.swept));
  }
  retention_.swept = 0;
}

}  // namespace leaseq
