#include "broker/lease_rules.h"

#include <algorithm>

#include "common/config.h"

namespace leaseq::rules {

int64_t LeaseTtlMs(const Settings& s) { return static_cast<int64_t>(s.heartbeat_ms) * s.liveness; }

int64_t LeaseExpiry(const Settings& s, int64_t now_wall_ms) { return now_wall_ms + LeaseTtlMs(s); }

int64_t StartupLeaseFloor(const Settings& s, int64_t now_wall_ms) {
  return now_wall_ms + config::StartupGraceMs(s.heartbeat_ms, s.liveness);
}

bool WorkerSilent(const Settings& s, int64_t last_heard_ms, int64_t now_ms) {
  return now_ms - last_heard_ms >= LeaseTtlMs(s);
}

LossDecision OnWorkerLost(const Settings& s, int64_t suspicious_before) {
  LossDecision d;
  d.suspicious = suspicious_before + 1;
  d.failed = d.suspicious > s.allowed_failures;
  if (d.failed) {
    d.error = "lost " + std::to_string(d.suspicious) +
              " workers while running it (allowed-failures " +
              std::to_string(s.allowed_failures) + "); it probably kills its worker";
  }
  return d;
}

ErrorDecision OnAttemptFailed(int64_t errors_before, int64_t retries, int64_t now_wall_ms,
                              bool permanent) {
  ErrorDecision d;
  d.errors = errors_before + 1;
  d.retry = !permanent && d.errors <= retries;
  d.ready_at = d.retry ? now_wall_ms + RetryBackoffMs(d.errors) : 0;
  return d;
}

int64_t RetryBackoffMs(int64_t n) {
  int64_t backoff = config::kRetryBackoffMs;
  for (int64_t i = 1; i < n && backoff < config::kRetryBackoffMaxMs; ++i) backoff *= 2;
  return std::min(backoff, config::kRetryBackoffMaxMs);
}

}  // namespace leaseq::rules
