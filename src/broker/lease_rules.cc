#include "broker/lease_rules.h"

#include <algorithm>

namespace leaseq::rules {

int64_t LeaseTtlMs(const Settings& s) { return static_cast<int64_t>(s.heartbeat_ms) * s.liveness; }

int64_t LeaseExpiry(const Settings& s, int64_t now_wall_ms) { return now_wall_ms + LeaseTtlMs(s); }

bool LeaseDueForRenewal(const Settings& s, int64_t expires_wall_ms, int64_t now_wall_ms) {
  return expires_wall_ms <= LeaseExpiry(s, now_wall_ms) - s.heartbeat_ms / 2;
}

bool WorkerSilent(const Settings& s, int64_t last_heard_ms, int64_t now_ms) {
  return now_ms - last_heard_ms >= LeaseTtlMs(s);
}

int64_t IdleHeartbeatMs(const Settings& s) {
  return static_cast<int64_t>(s.heartbeat_ms) * std::max(1, s.idle_heartbeat_factor);
}

int64_t IdleSilenceMs(const Settings& s) { return IdleHeartbeatMs(s) * s.liveness; }

int64_t BrokerIdleHeartbeatMs(const Settings& s) {
  const int64_t margin = static_cast<int64_t>(2 * s.liveness - 2) * s.heartbeat_ms;
  return std::max<int64_t>(s.heartbeat_ms, std::min(IdleHeartbeatMs(s), margin));
}

bool WorkerSilent(const Settings& s, const Hearing& h, int64_t now_ms) {
  if (h.idle) return now_ms - h.last_heard_ms >= IdleSilenceMs(s);
  return now_ms - std::max(h.last_heard_ms, h.busy_since_ms) >= LeaseTtlMs(s);
}

int64_t StartupGraceMs(const Settings& s) { return 2 * LeaseTtlMs(s) + s.reconnect_max_ms; }

int64_t StartupLeaseFloor(const Settings& s, int64_t now_wall_ms) {
  return now_wall_ms + StartupGraceMs(s);
}

Credit CreditOf(int64_t slots, int64_t prefetch, int64_t held) {
  // The prefetch counts only while it takes work: 0 slots is a pause.
  const int64_t limit = slots > 0 ? slots + prefetch : 0;
  return {std::max<int64_t>(0, limit - held), std::max<int64_t>(0, slots - held)};
}

bool IsPrefetch(const Credit& credit, int64_t index) { return index >= credit.free_slots; }

Blame BlameOf(LossCause cause) {
  switch (cause) {
    case LossCause::kProcessDied: return Blame::kDeath;
    case LossCause::kSilent: return Blame::kSuspected;
    case LossCause::kLeaseLapsed: break;  // the worker is heard: it is alive
  }
  return Blame::kNone;
}

LossCause CauseOfLapse(const Settings& s, bool connected, int64_t last_heard_ms, int64_t now_ms) {
  return connected && !WorkerSilent(s, last_heard_ms, now_ms) ? LossCause::kLeaseLapsed
                                                              : LossCause::kSilent;
}

LossCause CauseOfLapse(const Settings& s, bool connected, const Hearing& h, int64_t now_ms) {
  return connected && !WorkerSilent(s, h, now_ms) ? LossCause::kLeaseLapsed : LossCause::kSilent;
}

AttemptOutcome ReclaimedOutcome(bool started) {
  return started ? AttemptOutcome::kLost : AttemptOutcome::kReleased;
}

Rejoin RejoinOf(bool known_name, bool same_session) {
  if (!known_name) return Rejoin::kNew;
  return same_session ? Rejoin::kSameProcess : Rejoin::kNewProcess;
}

bool Poisoned(const Settings& s, int64_t deaths) { return deaths > s.allowed_failures; }

std::string PoisonError(const Settings& s, int64_t deaths) {
  return "lost " + std::to_string(deaths) + " workers while running it, each a death (allowed-failures " +
         std::to_string(s.allowed_failures) + "); it probably kills its worker";
}

LossDecision OnWorkerLost(const Settings& s, int64_t suspicious_before, int64_t deaths_before,
                          Blame blame) {
  LossDecision d;
  d.suspicious = suspicious_before + (blame == Blame::kNone ? 0 : 1);
  d.deaths = deaths_before + (blame == Blame::kDeath ? 1 : 0);
  d.failed = Poisoned(s, d.deaths);
  if (d.failed) d.error = PoisonError(s, d.deaths);
  return d;
}

LossDecision OnDeathConfirmed(const Settings& s, int64_t suspicious, int64_t deaths_before,
                              bool queued) {
  LossDecision d;
  d.suspicious = suspicious;
  d.deaths = deaths_before + 1;
  d.failed = queued && Poisoned(s, d.deaths);
  if (d.failed) d.error = PoisonError(s, d.deaths);
  return d;
}

int64_t OnLossWithdrawn(int64_t suspicious_before) {
  return suspicious_before > 0 ? suspicious_before - 1 : 0;
}

int64_t DeathConfirmCutoff(const Settings& s, int64_t now_wall_ms) {
  return now_wall_ms - s.death_confirm_ms;
}

ErrorDecision OnAttemptFailed(const Settings& s, int64_t errors_before, int64_t retries,
                              int64_t deaths, int64_t now_wall_ms, bool permanent) {
  ErrorDecision d;
  d.errors = errors_before + 1;
  d.retry = !permanent && d.errors <= retries;
  // Retries left, but its workers keep dying: it runs no more.
  d.poisoned = d.retry && Poisoned(s, deaths);
  if (d.poisoned) {
    d.retry = false;
    d.error = PoisonError(s, deaths);
  }
  d.ready_at = d.retry ? now_wall_ms + RetryBackoffMs(s, d.errors) : 0;
  return d;
}

int64_t RetryBackoffMs(const Settings& s, int64_t n) {
  int64_t backoff = s.retry_backoff_ms;
  for (int64_t i = 1; i < n && backoff < s.retry_backoff_max_ms; ++i) backoff *= 2;
  return std::min(backoff, s.retry_backoff_max_ms);
}

int64_t WallClockStep(int64_t wall_before, int64_t steady_before, int64_t wall_now,
                      int64_t steady_now) {
  const int64_t step = (wall_now - wall_before) - (steady_now - steady_before);
  return step >= kClockStepMs || step <= -kClockStepMs ? step : 0;
}

bool RegisterReleasesUnlisted(bool repeated_on_same_connection) {
  return !repeated_on_same_connection;
}

bool SilenceConfirmsDeaths(const Settings& s, int64_t up_ms) { return up_ms >= s.death_confirm_ms; }

}  // namespace leaseq::rules
