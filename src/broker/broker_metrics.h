// BrokerMetrics: what the broker did since it started, for /metrics and the
// dashboard (src/broker/http/). The counts that the database keeps (tasks by
// state and queue, workers) are read from the database by the HTTP thread;
// these are the ones it does not keep: events (attempts ended by outcome,
// retries, workers lost, leases reclaimed), durations (run time, queue wait,
// commit latency) and a short memory of recent failures and losses.
//
// The store records events of a pass into a PassEvents (plain data, owned by
// the loop: no lock, a few vector appends per task) and publishes them only
// when the pass commits, so that a rolled-back pass counts nothing.
// Publish() and Snapshot() take one mutex: BrokerMetrics is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace leaseq {

// A Prometheus histogram: cumulative counts per upper bound, sum and count.
// Bounds in seconds (base units).
struct Histogram {
  static const std::vector<double>& Bounds();
  std::vector<uint64_t> buckets;  // per bound, not cumulative (one for +Inf at the end)
  uint64_t count = 0;
  double sum = 0;
  void Observe(double seconds);
};

// A task that ended badly, as the dashboard lists it.
struct TaskEvent {
  int64_t at_ms = 0;
  std::string key;
  std::string worker;
  std::string what;  // the error, or why the worker was lost
};

// Events of one loop pass (filled by Store, on the loop thread).
struct PassEvents {
  std::map<std::string, int64_t> attempts;  // outcome -> attempts ended so
  int64_t done = 0, failed = 0, cancelled = 0;
  int64_t retried_auto = 0, retried_manual = 0;
  int64_t workers_lost = 0, leases_reclaimed = 0, failed_by_suspicion = 0;
  std::vector<std::pair<std::string, double>> run_seconds;   // (queue, s) of done/error attempts
  std::vector<std::pair<std::string, double>> wait_seconds;  // (queue, s): submit to first start
  std::vector<std::string> lost_workers;                     // names
  std::vector<TaskEvent> failures, losses;
  bool empty() const {
    return attempts.empty() && done == 0 && failed == 0 && cancelled == 0 && retried_auto == 0 &&
           retried_manual == 0 && workers_lost == 0 && leases_reclaimed == 0 &&
           run_seconds.empty() && wait_seconds.empty() && failures.empty() && losses.empty();
  }
};

class BrokerMetrics {
 public:
  struct Values {
    int64_t started_ms = 0;  // wall
    std::map<std::string, int64_t> attempts;
    int64_t done = 0, failed = 0, cancelled = 0;
    int64_t retried_auto = 0, retried_manual = 0;
    int64_t workers_lost = 0, leases_reclaimed = 0, failed_by_suspicion = 0;
    std::map<std::string, Histogram> run_seconds, wait_seconds;  // by queue
    Histogram commit_seconds;
    int64_t commits = 0, failed_commits = 0;
    int64_t last_commit_steady_ms = 0;  // 0: none yet
    std::string last_commit_error;      // empty when the last commit succeeded
    std::map<std::string, int64_t> lost_by_worker;
    std::deque<TaskEvent> failures, losses;  // newest first, bounded
  };

  explicit BrokerMetrics(int64_t started_ms);

  // The pass committed (commit took `seconds`) or did not (error).
  void Publish(PassEvents& events, double seconds, int64_t steady_ms);
  void CommitFailed(const std::string& error, int64_t steady_ms);
  Values Snapshot() const;

 private:
  mutable std::mutex mu_;
  Values v_;
};

}  // namespace leaseq
