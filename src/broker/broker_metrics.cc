#include "broker/broker_metrics.h"

namespace leaseq {

namespace {
// Recent failures and losses kept for the dashboard.
constexpr size_t kRecentEvents = 50;

void Append(std::deque<TaskEvent>* to, std::vector<TaskEvent>* from) {
  for (auto& e : *from) {
    to->push_front(std::move(e));
    if (to->size() > kRecentEvents) to->pop_back();
  }
}
}  // namespace

const std::vector<double>& Histogram::Bounds() {
  // From 1 ms to 10 min: noop tasks and commits at the low end, real work above.
  static const std::vector<double> bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,      2.5,   5,    10,    30,   60,  300, 600};
  return bounds;
}

void Histogram::Observe(double seconds) {
  const auto& b = Bounds();
  if (buckets.empty()) buckets.assign(b.size() + 1, 0);
  size_t i = 0;
  while (i < b.size() && seconds > b[i]) ++i;
  ++buckets[i];
  ++count;
  sum += seconds;
}

BrokerMetrics::BrokerMetrics(int64_t started_ms) {
  v_.started_ms = started_ms;
  v_.commit_seconds.buckets.assign(Histogram::Bounds().size() + 1, 0);
}

void BrokerMetrics::Publish(PassEvents& e, double seconds, int64_t steady_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  v_.commit_seconds.Observe(seconds);
  ++v_.commits;
  v_.last_commit_steady_ms = steady_ms;
  v_.last_commit_error.clear();
  if (e.empty()) return;
  for (const auto& [outcome, n] : e.attempts) v_.attempts[outcome] += n;
  v_.done += e.done;
  v_.failed += e.failed;
  v_.cancelled += e.cancelled;
  v_.retried_auto += e.retried_auto;
  v_.retried_manual += e.retried_manual;
  v_.workers_lost += e.workers_lost;
  v_.leases_reclaimed += e.leases_reclaimed;
  v_.failed_by_suspicion += e.failed_by_suspicion;
  for (const auto& [queue, s] : e.run_seconds) v_.run_seconds[queue].Observe(s);
  for (const auto& [queue, s] : e.wait_seconds) v_.wait_seconds[queue].Observe(s);
  for (const auto& name : e.lost_workers) ++v_.lost_by_worker[name];
  Append(&v_.failures, &e.failures);
  Append(&v_.losses, &e.losses);
  e = PassEvents();
}

void BrokerMetrics::CommitFailed(const std::string& error, int64_t steady_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ++v_.failed_commits;
  v_.last_commit_steady_ms = steady_ms;
  v_.last_commit_error = error.empty() ? "the commit failed" : error;
}

BrokerMetrics::Values BrokerMetrics::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return v_;
}

}  // namespace leaseq
