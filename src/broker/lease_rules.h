// Lease and suspicion rules: pure functions of the current state and the
// clock's reading, with no I/O, so they can be tested with a fake clock.
// The store applies them; the loop supplies the time. Thread-safe (pure).
//
//  - A lease lasts heartbeat_ms x liveness from its last renewal.
//  - A worker lost while holding an attempt makes that task suspicious + 1:
//    evidence that the task kills its worker, which may be withdrawn. Only
//    deaths that are confirmed count towards failing it: past
//    allowed_failures confirmed deaths the task is failed (it probably kills
//    workers). A loss is a confirmed death when the worker's nanny saw the
//    process die, when a new session takes the worker's name, or when the
//    worker stays away longer than death_confirm_ms; it is withdrawn (the
//    worker did not die: a partition, a freeze) when the same session comes
//    back, and a lease that lapses while its worker is heard blames nothing.
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
  // A lost worker not back after this long is taken for dead (broker
  // --death-confirm-after): longer than any partition to forgive.
  int64_t death_confirm_ms = 60000;
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

// Whether a register releases the attempts leased to its worker that its
// running[] and queued[] do not list. Yes on a new connection: what was
// sent on the old one was dropped with it. No for a register repeated on the
// connection that already welcomed the same session (the worker sends it
// again until a welcome comes; after a partition several arrive at once):
// it was sent before tasks leased since could reach the worker, and those
// would be released while it runs them, then leased straight back to it
// (a lease/release storm found by the simulator, docs/simulation.md).
bool RegisterReleasesUnlisted(bool repeated_on_same_connection);

// What a lost attempt says about its task (attempts.blame).
enum class Blame {
  kNone,       // not a loss, or a loss withdrawn: the worker did not die ('withdrawn')
  kSuspected,  // the worker is gone, not known dead: a partition looks the same ('suspected')
  kDeath,      // the worker's process died ('death')
};
// The attempts.blame text of a loss (kNone: "withdrawn").
const char* BlameText(Blame b);

// How the broker came to reclaim a worker's attempt.
enum class LossCause {
  kProcessDied,  // its nanny saw it die, or a new session took its name
  kSilent,       // silent past its lease, or not back after a broker restart
  kLeaseLapsed,  // one lease lapsed while the worker itself is still heard
};
Blame BlameOf(LossCause cause);

struct LossDecision {
  int64_t suspicious;  // the new count: losses not withdrawn
  int64_t deaths;      // the new count: confirmed deaths
  bool failed;         // true: the task ends failed
  std::string error;   // the task's error when failed
};
// A worker was lost while it held the task's attempt; blame is that loss's.
// Fails the task once its confirmed deaths pass allowed_failures: never on
// suspicion alone, which a returning worker may withdraw.
LossDecision OnWorkerLost(const Settings& s, int64_t suspicious_before, int64_t deaths_before,
                          Blame blame);
// A suspected loss turned out a death. fail_now: the task is queued (not
// running, not ended) and its deaths are past allowed_failures; a running
// one is decided when that attempt ends (Poisoned).
LossDecision OnDeathConfirmed(const Settings& s, int64_t suspicious, int64_t deaths_before,
                              bool queued);
// A suspected loss withdrawn: the same session came back.
int64_t OnLossWithdrawn(int64_t suspicious_before);
// True when a task with this many confirmed deaths must not run again.
bool Poisoned(const Settings& s, int64_t deaths);
// The task's error when it is failed for its deaths.
std::string PoisonError(const Settings& s, int64_t deaths);
// Suspected losses that ended at or before this wall time are confirmed
// deaths at now: their worker has not come back for death_confirm_ms.
int64_t DeathConfirmCutoff(const Settings& s, int64_t now_wall_ms);
// Whether silence may confirm deaths yet, the broker having run for up_ms
// (steady). Not before death_confirm_ms: a worker cannot come back to a
// broker that is down, and the stored end times of losses from before a
// restart are wall times that a clock step while it was down can age by an
// hour (found by the simulator, docs/simulation.md).
bool SilenceConfirmsDeaths(const Settings& s, int64_t up_ms);

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

// A step of the wall clock (NTP, an operator, a VM restored): how far the
// wall clock moved beyond the monotonic clock between two readings of both,
// or 0 below kClockStepMs (drift and the readings' own skew). Leases are
// stored as wall times; the broker shifts them by a step so that a step
// neither expires live leases (forward) nor keeps dead ones (backward).
inline constexpr int64_t kClockStepMs = 1000;
int64_t WallClockStep(int64_t wall_before, int64_t steady_before, int64_t wall_now,
                      int64_t steady_now);

// Backoff before the n-th retry (n >= 1).
int64_t RetryBackoffMs(int64_t n);

}  // namespace leaseq::rules
