// Lease and suspicion rules: pure functions of the current state and the
// clock's reading, with no I/O, so they can be tested with a fake clock.
// The store applies them; the loop supplies the time. Thread-safe (pure).
//
//  - A lease lasts heartbeat_ms x liveness from its last renewal.
//  - A worker lost while holding an attempt makes that task suspicious + 1;
//    past allowed_failures the task is failed (it probably kills workers).
//  - A failed attempt is retried after a doubling backoff while retries remain,
//    unless it failed permanently (its command cannot be started).
#pragma once

#include <cstdint>
#include <string>

namespace leaseq::rules {

struct Settings {
  int heartbeat_ms;
  int liveness;
  int allowed_failures;
};

// How long a lease (or a silent worker) lives without news.
int64_t LeaseTtlMs(const Settings& s);

// Wall-clock expiry of a lease renewed at now_wall_ms.
int64_t LeaseExpiry(const Settings& s, int64_t now_wall_ms);

// The earliest expiry the broker gives to leases found in the database at
// start-up: long enough for their workers to reconnect and re-announce them.
int64_t StartupLeaseFloor(const Settings& s, int64_t now_wall_ms);

// True when a worker last heard at last_heard_ms is lost at now_ms (steady).
bool WorkerSilent(const Settings& s, int64_t last_heard_ms, int64_t now_ms);

struct LossDecision {
  int64_t suspicious;  // the new count
  bool failed;         // true: the task ends failed
  std::string error;   // the task's error when failed
};
// A worker was lost while it held the task's attempt.
LossDecision OnWorkerLost(const Settings& s, int64_t suspicious_before);

struct ErrorDecision {
  int64_t errors;    // failed attempts, this one included
  bool retry;        // true: back to queued, not before ready_at
  int64_t ready_at;  // wall ms
};
// The task's command failed (non-zero exit, signal, timed out). A permanent
// failure (the command cannot be started at all) is never retried: another
// attempt would fail the same way.
ErrorDecision OnAttemptFailed(int64_t errors_before, int64_t retries, int64_t now_wall_ms,
                              bool permanent = false);

// Backoff before the n-th retry (n >= 1).
int64_t RetryBackoffMs(int64_t n);

}  // namespace leaseq::rules
