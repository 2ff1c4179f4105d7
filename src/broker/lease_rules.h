// Lease rules: every decision of the lease protocol, as pure functions of
// their inputs and the broker's settings, with no I/O, so that each can be
// tested alone (lease_rules_test.cc) and the code that runs is the code that
// is tested. The store (store_*.cc) and the loop (broker*.cc,
// worker_registry.cc) only apply them: they read the inputs, call the rule,
// and write what it decided. docs/semantics.md says the same in prose.
// Thread-safe (pure).
//
//  - Credit: a worker holds up to slots + prefetch attempts; those beyond
//    its free slots are prefetches, held unstarted.
//  - Silence: a worker unheard for heartbeat_ms x liveness is lost; a lease
//    lasts as long from its last renewal. A worker that heartbeats at the
//    idle rate (it announced it can, and its last heartbeat listed nothing,
//    and nothing was leased to it since) is lost only after
//    idle_heartbeat_factor times as long; once a lease makes it busy again
//    it is judged as any other, its silence counted from that lease.
//  - Startup grace: leases found in the database at start-up are honoured
//    long enough for their workers to reconnect and re-announce them.
//  - Blame: only an attempt its worker started is blamed when the worker is
//    lost (a prefetch is released). A loss makes its task suspicious + 1:
//    evidence that the task kills its worker, which may be withdrawn. It is
//    a death (deaths + 1) when the worker's nanny saw the process die, when
//    a new session takes the worker's name, or when the worker stays away
//    longer than death_confirm_ms; it is withdrawn (the worker did not die:
//    a partition, a freeze) when the same session comes back, and a lease
//    that lapses while its worker is heard blames nothing.
//  - Poison: past allowed_failures confirmed deaths a task is failed (it
//    probably kills workers), never on suspicion alone.
//  - Retry: a failed attempt is retried after a doubling backoff while
//    retries remain, unless it failed permanently (its command cannot be
//    started) or its task is poisoned.
//  - Clock step: leases move with a step of the wall clock.
#pragma once

#include <cstdint>
#include <string>

#include "broker/task_state.h"
#include "common/config.h"

namespace leaseq::rules {

// The broker's settings (its flags; the defaults are the flags' defaults).
struct Settings {
  int heartbeat_ms = config::kHeartbeatMs;          // --heartbeat-ms
  int liveness = config::kLiveness;                 // --liveness
  int allowed_failures = config::kAllowedFailures;  // --allowed-failures
  // A lost worker not back after this long is taken for dead (broker
  // --death-confirm-after): longer than any partition to forgive.
  int64_t death_confirm_ms = 60000;
  // Backoff before the n-th retry: retry_backoff_ms x 2^(n-1), capped.
  int64_t retry_backoff_ms = config::kRetryBackoffMs;
  int64_t retry_backoff_max_ms = config::kRetryBackoffMaxMs;
  // The longest a worker waits between two tries to reconnect (its
  // backoff's cap): the startup grace leaves it time for one.
  int64_t reconnect_max_ms = config::kReconnectMaxMs;
  // An idle worker's heartbeats (both ways) are this many times rarer
  // (--idle-heartbeat-factor; 1: as any other).
  int idle_heartbeat_factor = config::kIdleHeartbeatFactor;
};

// --- silence and leases ---

// How long a lease (or a silent worker) lives without news.
int64_t LeaseTtlMs(const Settings& s);

// Wall-clock expiry of a lease renewed at now_wall_ms.
int64_t LeaseExpiry(const Settings& s, int64_t now_wall_ms);

// True when a lease that expires at expires_wall_ms should be written again
// at now_wall_ms: it was last renewed half a heartbeat ago or more. A worker
// heartbeats each time it starts prefetched tasks, many times a second under
// short tasks; renewing every lease it holds on each of those would write
// every held attempt row again and again for a lifetime it already has.
bool LeaseDueForRenewal(const Settings& s, int64_t expires_wall_ms, int64_t now_wall_ms);

// True when a worker last heard at last_heard_ms is lost at now_ms (steady),
// by the normal rule (a worker that does not heartbeat at the idle rate).
bool WorkerSilent(const Settings& s, int64_t last_heard_ms, int64_t now_ms);

// The heartbeat interval of an idle worker (and of the broker's heartbeats
// to it): heartbeat_ms x idle_heartbeat_factor. The welcome says it to a
// worker that announced it can (0 there: the factor is 1, no idle rate).
int64_t IdleHeartbeatMs(const Settings& s);
// How long an idle worker may be silent: IdleHeartbeatMs x liveness.
int64_t IdleSilenceMs(const Settings& s);
// The interval of the broker's heartbeats to an idle worker: IdleHeartbeatMs,
// but at most (2 x liveness - 2) x heartbeat_ms (and at least heartbeat_ms).
// A worker at the idle rate that hears the broker after more than two lease
// lifetimes of silence registers again before it starts a task (what came
// may have waited on the way while its lease lapsed): the broker's idle
// heartbeats leave it two heartbeats of margin below that. (A task alone
// that comes more than a lease less a heartbeat after the broker's previous
// word makes it register again too, and so does one within a heartbeat
// after a word that came after such a silence: about three quarters of the
// first tasks after a long idle spell pay that round trip, which a faster
// idle rate would save at the price of the idle broker's CPU.)
int64_t BrokerIdleHeartbeatMs(const Settings& s);

// What the broker knows of a connected worker's hearing (steady times).
struct Hearing {
  int64_t last_heard_ms = 0;  // its last message of any kind
  // When a lease made it busy while it heartbeated at the idle rate (0:
  // never): it had no reason to speak before, so its silence counts from then.
  int64_t busy_since_ms = 0;
  // It heartbeats at the idle rate now: it announced it can, its last
  // heartbeat listed nothing, nothing was leased to it since, and its
  // connection is there (a send to it did not fail).
  bool idle = false;
};
// True when that worker is lost at now_ms: silent for IdleSilenceMs when
// idle, else for LeaseTtlMs since it was last heard or made busy. A worker
// that never announced the idle rate is judged by WorkerSilent above.
bool WorkerSilent(const Settings& s, const Hearing& h, int64_t now_ms);

// --- registration ---

// Whether a register releases the attempts leased to its worker that its
// running[] and queued[] do not list. Yes on a new connection: what was
// sent on the old one was dropped with it. No for a register repeated on the
// connection that already welcomed the same session (the worker sends it
// again until a welcome comes; after a partition several arrive at once):
// it was sent before tasks leased since could reach the worker, and those
// would be released while it runs them, then leased straight back to it
// (a lease/release storm found by the simulator, docs/simulation.md).
bool RegisterReleasesUnlisted(bool repeated_on_same_connection);

// --- startup grace ---

// How long after start-up the broker honours the leases found in the
// database, and waits for the workers it names alive to come back: two
// lease lifetimes and a reconnect.
int64_t StartupGraceMs(const Settings& s);

// The earliest expiry the broker gives to leases found in the database at
// start-up (now + StartupGraceMs).
int64_t StartupLeaseFloor(const Settings& s, int64_t now_wall_ms);

// --- credit ---

struct Credit {
  int64_t tasks;       // attempts it may be sent now (0: none)
  int64_t free_slots;  // the first this many of them start at once; the rest are prefetches
};
// A worker with slots takes up to slots + prefetch attempts, held counting
// those it holds (started or not); with 0 slots (paused, draining) none.
Credit CreditOf(int64_t slots, int64_t prefetch, int64_t held);
// The index-th (0-based) attempt of a batch sent with credit.free_slots is
// a prefetch: held unstarted until the worker says it started it.
bool IsPrefetch(const Credit& credit, int64_t index);

// --- blame ---

// What a lost attempt says about its task (attempts.blame; task_state.h
// maps it to its text).
using Blame = ::leaseq::Blame;

// How the broker came to reclaim a worker's attempt.
enum class LossCause {
  kProcessDied,  // its nanny saw it die, or a new session took its name
  kSilent,       // silent past its lease, or not back after a broker restart
  kLeaseLapsed,  // one lease lapsed while the worker itself is still heard
};
Blame BlameOf(LossCause cause);

// Why a lease lapsed: the worker is connected and not silent (the lease
// alone lapsed: a renewal that did not come), or it is silent or gone.
LossCause CauseOfLapse(const Settings& s, bool connected, int64_t last_heard_ms, int64_t now_ms);
// The same for a worker whose hearing is known: silent by WorkerSilent(h).
LossCause CauseOfLapse(const Settings& s, bool connected, const Hearing& h, int64_t now_ms);

// What a reclaimed attempt ends as. Only what ran is blamed: an attempt its
// worker started is lost (with its cause's blame); a prefetch never started
// is released, as if handed back: the task did nothing to the worker.
AttemptOutcome ReclaimedOutcome(bool started);

// What a registration says about the process that held the name before.
enum class Rejoin {
  kNew,          // no one had the name
  kSameProcess,  // the same session is back: it did not die, its losses are withdrawn
  kNewProcess,   // another session: the old process is dead, its losses are deaths
};
Rejoin RejoinOf(bool known_name, bool same_session);

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
// A suspected loss withdrawn: the same session came back. The new count.
int64_t OnLossWithdrawn(int64_t suspicious_before);
// Suspected losses that ended at or before this wall time are confirmed
// deaths at now: their worker has not come back for death_confirm_ms.
int64_t DeathConfirmCutoff(const Settings& s, int64_t now_wall_ms);
// Whether silence may confirm deaths yet, the broker having run for up_ms
// (steady). Not before death_confirm_ms: a worker cannot come back to a
// broker that is down, and the stored end times of losses from before a
// restart are wall times that a clock step while it was down can age by an
// hour (found by the simulator, docs/simulation.md).
bool SilenceConfirmsDeaths(const Settings& s, int64_t up_ms);

// --- poison ---

// True when a task with this many confirmed deaths must not run again: an
// attempt of it that ends without a loss (released, failed with retries
// left) fails it instead of queueing it again.
bool Poisoned(const Settings& s, int64_t deaths);
// The task's error when it is failed for its deaths.
std::string PoisonError(const Settings& s, int64_t deaths);

// --- retry ---

struct ErrorDecision {
  int64_t errors;     // failed attempts, this one included
  bool retry;         // true: back to queued, not before ready_at
  int64_t ready_at;   // wall ms
  bool poisoned;      // not retried though retries remain: its deaths pass allowed_failures
  std::string error;  // when poisoned: the task's error (PoisonError)
};
// The task's command failed (non-zero exit, signal, timed out). A permanent
// failure (the command cannot be started at all) is never retried: another
// attempt would fail the same way; nor is a poisoned task.
ErrorDecision OnAttemptFailed(const Settings& s, int64_t errors_before, int64_t retries,
                              int64_t deaths, int64_t now_wall_ms, bool permanent = false);

// Backoff before the n-th retry (n >= 1).
int64_t RetryBackoffMs(const Settings& s, int64_t n);

// --- clock step ---

// A step of the wall clock (NTP, an operator, a VM restored): how far the
// wall clock moved beyond the monotonic clock between two readings of both,
// or 0 below kClockStepMs (drift and the readings' own skew). Leases are
// stored as wall times; the broker shifts them by a step so that a step
// neither expires live leases (forward) nor keeps dead ones (backward).
inline constexpr int64_t kClockStepMs = 1000;
int64_t WallClockStep(int64_t wall_before, int64_t steady_before, int64_t wall_now,
                      int64_t steady_now);

}  // namespace leaseq::rules
