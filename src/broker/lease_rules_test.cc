#include "broker/lease_rules.h"

#include <gtest/gtest.h>

#include "broker/worker_registry.h"
#include "common/clock.h"
#include "common/config.h"

namespace leaseq::rules {
namespace {

const Settings kSettings{1000, 3, 3};

TEST(LeaseRules, TtlIsHeartbeatTimesLiveness) {
  EXPECT_EQ(LeaseTtlMs(kSettings), 3000);
  EXPECT_EQ(LeaseTtlMs(Settings{250, 4, 3}), 1000);
}

TEST(LeaseRules, ExpiryIsNowPlusTtl) {
  FakeClock clock;
  EXPECT_EQ(LeaseExpiry(kSettings, clock.WallMs()), clock.WallMs() + 3000);
  clock.Advance(1234);
  EXPECT_EQ(LeaseExpiry(kSettings, clock.WallMs()), clock.WallMs() + 3000);
}

TEST(LeaseRules, ALeaseIsDueForRenewalHalfAHeartbeatAfterItWasRenewed) {
  const int64_t t0 = 1'000'000;
  const int64_t expires = LeaseExpiry(kSettings, t0);
  EXPECT_FALSE(LeaseDueForRenewal(kSettings, expires, t0));
  EXPECT_FALSE(LeaseDueForRenewal(kSettings, expires, t0 + kSettings.heartbeat_ms / 2 - 1));
  EXPECT_TRUE(LeaseDueForRenewal(kSettings, expires, t0 + kSettings.heartbeat_ms / 2));
  EXPECT_TRUE(LeaseDueForRenewal(kSettings, expires, t0 + kSettings.heartbeat_ms));
  // A lease set further out (the start-up floor) is not written again early.
  EXPECT_FALSE(LeaseDueForRenewal(kSettings, expires + 10'000, t0 + kSettings.heartbeat_ms));
}

TEST(LeaseRules, LosingOneToThreeWorkersKeepsTheTaskQueued) {
  for (int64_t before = 0; before < 3; ++before) {
    LossDecision d = OnWorkerLost(kSettings, before, before, Blame::kDeath);
    EXPECT_EQ(d.suspicious, before + 1);
    EXPECT_EQ(d.deaths, before + 1);
    EXPECT_FALSE(d.failed) << "suspicious " << d.suspicious;
    EXPECT_EQ(d.error, "");
  }
}

TEST(LeaseRules, FourthDeathFailsTheTaskNamingAllowedFailures) {
  LossDecision d = OnWorkerLost(kSettings, 3, 3, Blame::kDeath);
  EXPECT_EQ(d.suspicious, 4);
  EXPECT_EQ(d.deaths, 4);
  EXPECT_TRUE(d.failed);
  EXPECT_NE(d.error.find("allowed-failures 3"), std::string::npos) << d.error;
  EXPECT_NE(d.error.find("lost 4 workers"), std::string::npos) << d.error;
}

TEST(LeaseRules, AllowedFailuresZeroFailsOnFirstDeath) {
  EXPECT_TRUE(OnWorkerLost(Settings{1000, 3, 0}, 0, 0, Blame::kDeath).failed);
  EXPECT_FALSE(OnWorkerLost(Settings{1000, 3, 0}, 0, 0, Blame::kSuspected).failed);
}

// A partition looks like a death until the worker comes back: suspicion
// alone, however much of it, never fails a task.
TEST(LeaseRules, SuspicionAloneNeverFailsATask) {
  LossDecision d = OnWorkerLost(kSettings, 10, 0, Blame::kSuspected);
  EXPECT_EQ(d.suspicious, 11);
  EXPECT_EQ(d.deaths, 0);
  EXPECT_FALSE(d.failed);
  d = OnWorkerLost(kSettings, 10, 3, Blame::kSuspected);
  EXPECT_FALSE(d.failed);
}

TEST(LeaseRules, ALeaseLapsedOnAHeardWorkerBlamesNothing) {
  EXPECT_EQ(BlameOf(LossCause::kLeaseLapsed), Blame::kNone);
  EXPECT_EQ(BlameOf(LossCause::kSilent), Blame::kSuspected);
  EXPECT_EQ(BlameOf(LossCause::kProcessDied), Blame::kDeath);
  LossDecision d = OnWorkerLost(kSettings, 2, 3, Blame::kNone);
  EXPECT_EQ(d.suspicious, 2);
  EXPECT_EQ(d.deaths, 3);
  EXPECT_FALSE(d.failed);
}

TEST(LeaseRules, ALapsedLeaseOfAHeardWorkerIsNotItsDeath) {
  const int64_t heard = 10'000;
  EXPECT_EQ(CauseOfLapse(kSettings, true, heard, heard + 2999), LossCause::kLeaseLapsed);
  EXPECT_EQ(CauseOfLapse(kSettings, true, heard, heard + 3000), LossCause::kSilent);
  // Not connected (lost already, or not back after a restart): silent.
  EXPECT_EQ(CauseOfLapse(kSettings, false, heard, heard), LossCause::kSilent);
}

TEST(LeaseRules, OnlyWhatRanIsBlamed) {
  EXPECT_EQ(ReclaimedOutcome(/*started=*/true), AttemptOutcome::kLost);
  EXPECT_EQ(ReclaimedOutcome(/*started=*/false), AttemptOutcome::kReleased);
}

TEST(LeaseRules, ANewSessionUnderAKnownNameIsTheOldProcessDeath) {
  EXPECT_EQ(RejoinOf(/*known_name=*/false, false), Rejoin::kNew);
  EXPECT_EQ(RejoinOf(true, /*same_session=*/true), Rejoin::kSameProcess);
  EXPECT_EQ(RejoinOf(true, /*same_session=*/false), Rejoin::kNewProcess);
}

// A real poison task without a nanny: each loss is suspected, then
// confirmed (a new session, or silence); the confirmation that passes
// allowed-failures fails it when it is queued, not while it runs.
TEST(LeaseRules, AConfirmedDeathFailsAQueuedTaskPastAllowedFailures) {
  LossDecision d = OnDeathConfirmed(kSettings, 4, 2, /*queued=*/true);
  EXPECT_EQ(d.deaths, 3);
  EXPECT_FALSE(d.failed);
  d = OnDeathConfirmed(kSettings, 4, 3, /*queued=*/true);
  EXPECT_EQ(d.deaths, 4);
  EXPECT_EQ(d.suspicious, 4);
  EXPECT_TRUE(d.failed);
  EXPECT_NE(d.error.find("lost 4 workers"), std::string::npos) << d.error;
  EXPECT_FALSE(OnDeathConfirmed(kSettings, 4, 3, /*queued=*/false).failed);
  EXPECT_TRUE(Poisoned(kSettings, 4));
  EXPECT_FALSE(Poisoned(kSettings, 3));
}

TEST(LeaseRules, AWithdrawnLossTakesBackItsSuspicion) {
  EXPECT_EQ(OnLossWithdrawn(2), 1);
  EXPECT_EQ(OnLossWithdrawn(0), 0);
}

TEST(LeaseRules, SilenceConfirmsADeathAfterTheSetting) {
  Settings s{200, 3, 1};
  s.death_confirm_ms = 60000;
  EXPECT_EQ(DeathConfirmCutoff(s, 1'000'000), 940'000);
  EXPECT_EQ(kSettings.death_confirm_ms, 60000);  // the default
}

TEST(LeaseRules, AWallClockStepIsWhatTheWallMovedBeyondTheSteadyClock) {
  const int64_t wall = 1'700'000'000'000, steady = 5'000;
  EXPECT_EQ(WallClockStep(wall, steady, wall + 50, steady + 50), 0);      // no step
  EXPECT_EQ(WallClockStep(wall, steady, wall + 900, steady + 50), 0);     // under 1 s
  EXPECT_EQ(WallClockStep(wall, steady, wall + 2'000, steady + 2'000), 0);  // a stall
  EXPECT_EQ(WallClockStep(wall, steady, wall + 3'600'050, steady + 50), 3'600'000);
  EXPECT_EQ(WallClockStep(wall, steady, wall - 3'599'950, steady + 50), -3'600'000);
}

TEST(LeaseRules, FailedAttemptWithoutRetriesFails) {
  ErrorDecision d = OnAttemptFailed(kSettings, 0, 0, 0, 5000);
  EXPECT_EQ(d.errors, 1);
  EXPECT_FALSE(d.retry);
  EXPECT_FALSE(d.poisoned);
}

TEST(LeaseRules, FailedAttemptIsRetriedWhileRetriesRemain) {
  const int64_t now = 1'700'000'000'000;
  ErrorDecision first = OnAttemptFailed(kSettings, 0, 2, 0, now);
  EXPECT_EQ(first.errors, 1);
  EXPECT_TRUE(first.retry);
  EXPECT_EQ(first.ready_at, now + RetryBackoffMs(kSettings, 1));
  ErrorDecision second = OnAttemptFailed(kSettings, 1, 2, 0, now);
  EXPECT_EQ(second.errors, 2);
  EXPECT_TRUE(second.retry);
  EXPECT_EQ(second.ready_at, now + RetryBackoffMs(kSettings, 2));
  ErrorDecision third = OnAttemptFailed(kSettings, 2, 2, 0, now);
  EXPECT_EQ(third.errors, 3);
  EXPECT_FALSE(third.retry);
}

TEST(LeaseRules, PermanentFailureIsNeverRetried) {
  ErrorDecision d = OnAttemptFailed(kSettings, 0, 3, 0, 1'700'000'000'000, /*permanent=*/true);
  EXPECT_EQ(d.errors, 1);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.ready_at, 0);
}

// Retries left, but its workers died past allowed-failures meanwhile (lost
// elsewhere while this attempt ran): it is failed for its deaths.
TEST(LeaseRules, APoisonedTaskIsNotRetried) {
  ErrorDecision d = OnAttemptFailed(kSettings, 0, 5, /*deaths=*/4, 5000);
  EXPECT_EQ(d.errors, 1);
  EXPECT_FALSE(d.retry);
  EXPECT_TRUE(d.poisoned);
  EXPECT_EQ(d.error, PoisonError(kSettings, 4));
  EXPECT_FALSE(OnAttemptFailed(kSettings, 0, 5, /*deaths=*/3, 5000).poisoned);
  // No retries left: it fails for its own error, not its deaths.
  EXPECT_FALSE(OnAttemptFailed(kSettings, 0, 0, /*deaths=*/4, 5000).poisoned);
}

TEST(LeaseRules, RetryBackoffDoublesAndIsCapped) {
  EXPECT_EQ(RetryBackoffMs(kSettings, 1), config::kRetryBackoffMs);
  EXPECT_EQ(RetryBackoffMs(kSettings, 2), 2 * config::kRetryBackoffMs);
  EXPECT_EQ(RetryBackoffMs(kSettings, 3), 4 * config::kRetryBackoffMs);
  for (int64_t n = 1; n < 40; ++n) {
    EXPECT_LE(RetryBackoffMs(kSettings, n), RetryBackoffMs(kSettings, n + 1)) << n;
    EXPECT_LE(RetryBackoffMs(kSettings, n), config::kRetryBackoffMaxMs) << n;
  }
  EXPECT_EQ(RetryBackoffMs(kSettings, 1000), config::kRetryBackoffMaxMs);
  EXPECT_EQ(RetryBackoffMs(kSettings, int64_t{1} << 40), config::kRetryBackoffMaxMs);
  EXPECT_EQ(RetryBackoffMs(Settings{}, 5), RetryBackoffMs(kSettings, 5));  // the default settings
}

TEST(LeaseRules, RetryBackoffFollowsTheSettings) {
  Settings s = kSettings;
  s.retry_backoff_ms = 30;
  s.retry_backoff_max_ms = 100;
  EXPECT_EQ(RetryBackoffMs(s, 1), 30);
  EXPECT_EQ(RetryBackoffMs(s, 2), 60);
  EXPECT_EQ(RetryBackoffMs(s, 3), 100);
  EXPECT_EQ(OnAttemptFailed(s, 1, 5, 0, 1000).ready_at, 1060);
}

// The defaults are the broker's flags' defaults (--heartbeat-ms 1000,
// --liveness 3, --allowed-failures 3, --death-confirm-after 60s) and the
// backoff leaseq always had.
TEST(LeaseRules, DefaultSettingsAreTheFlagsDefaults) {
  const Settings d;
  EXPECT_EQ(d.heartbeat_ms, 1000);
  EXPECT_EQ(d.liveness, 3);
  EXPECT_EQ(d.allowed_failures, 3);
  EXPECT_EQ(d.death_confirm_ms, 60000);
  EXPECT_EQ(d.retry_backoff_ms, 100);
  EXPECT_EQ(d.retry_backoff_max_ms, 10000);
  EXPECT_EQ(d.reconnect_max_ms, config::kReconnectMaxMs);
}

TEST(LeaseRules, CreditIsSlotsPlusPrefetch) {
  // 2 slots, prefetch 3, nothing held: 5 tasks, the first 2 start at once.
  Credit c = CreditOf(2, 3, 0);
  EXPECT_EQ(c.tasks, 5);
  EXPECT_EQ(c.free_slots, 2);
  EXPECT_FALSE(IsPrefetch(c, 0));
  EXPECT_FALSE(IsPrefetch(c, 1));
  EXPECT_TRUE(IsPrefetch(c, 2));
  EXPECT_TRUE(IsPrefetch(c, 4));
  // Holding 3 (2 running, 1 prefetched): 2 more, both prefetches.
  c = CreditOf(2, 3, 3);
  EXPECT_EQ(c.tasks, 2);
  EXPECT_EQ(c.free_slots, 0);
  EXPECT_TRUE(IsPrefetch(c, 0));
  // Full, or over (its slots went down): nothing, never negative.
  EXPECT_EQ(CreditOf(2, 3, 5).tasks, 0);
  EXPECT_EQ(CreditOf(2, 0, 4).tasks, 0);
  EXPECT_EQ(CreditOf(2, 0, 4).free_slots, 0);
  // No prefetch: slots only, none a prefetch.
  c = CreditOf(4, 0, 1);
  EXPECT_EQ(c.tasks, 3);
  EXPECT_FALSE(IsPrefetch(c, 2));
}

TEST(LeaseRules, ZeroSlotsTakesNothingWhateverItsPrefetch) {
  EXPECT_EQ(CreditOf(0, 5, 0).tasks, 0);
  EXPECT_EQ(CreditOf(0, 5, 0).free_slots, 0);
}

TEST(LeaseRules, WorkerSilentExactlyAfterTtl) {
  FakeClock clock;
  const int64_t heard = clock.SteadyMs();
  EXPECT_FALSE(WorkerSilent(kSettings, heard, heard));
  clock.Advance(2999);
  EXPECT_FALSE(WorkerSilent(kSettings, heard, clock.SteadyMs()));
  clock.Advance(1);
  EXPECT_TRUE(WorkerSilent(kSettings, heard, clock.SteadyMs()));
  clock.Advance(100000);
  EXPECT_TRUE(WorkerSilent(kSettings, heard, clock.SteadyMs()));
}

TEST(LeaseRules, StartupFloorOutlivesAFreshLease) {
  const int64_t now = 1'700'000'000'000;
  EXPECT_GT(StartupLeaseFloor(kSettings, now), LeaseExpiry(kSettings, now));
  EXPECT_GT(StartupLeaseFloor(kSettings, now),
            now + LeaseTtlMs(kSettings) + config::kReconnectMaxMs);
  EXPECT_EQ(StartupLeaseFloor(kSettings, now), now + StartupGraceMs(kSettings));
}

TEST(LeaseRules, StartupGraceIsTwoLeasesAndAReconnect) {
  EXPECT_EQ(StartupGraceMs(kSettings), 2 * 3000 + config::kReconnectMaxMs);
  Settings s{250, 4, 3};
  s.reconnect_max_ms = 500;
  EXPECT_EQ(StartupGraceMs(s), 2 * 1000 + 500);
}

// The loop's silence check is this rule, not a copy of it.
TEST(LeaseRules, TheRegistryFindsSilentWorkersByTheRule) {
  WorkerRegistry registry;
  WorkerRecord a, b;
  a.name = "a";
  b.name = "b";
  registry.Add(a, "ra", 1000);
  registry.Add(b, "rb", 1500);
  for (int64_t now : {1000, 3999, 4000, 4499, 4500, 9000}) {
    std::vector<std::string> want;
    if (WorkerSilent(kSettings, 1000, now)) want.push_back("a");
    if (WorkerSilent(kSettings, 1500, now)) want.push_back("b");
    EXPECT_EQ(registry.Silent(kSettings, now), want) << now;
  }
  EXPECT_EQ(registry.Silent(kSettings, 4000), std::vector<std::string>{"a"});
}

TEST(LeaseRules, AnIdleWorkerHasFactorTimesTheSilence) {
  EXPECT_EQ(IdleHeartbeatMs(kSettings), 1000 * config::kIdleHeartbeatFactor);
  EXPECT_EQ(IdleSilenceMs(kSettings), 3000 * config::kIdleHeartbeatFactor);
  Settings off = kSettings;
  off.idle_heartbeat_factor = 1;
  EXPECT_EQ(IdleSilenceMs(off), LeaseTtlMs(off));
  off.idle_heartbeat_factor = 0;  // not below the normal rate
  EXPECT_EQ(IdleHeartbeatMs(off), 1000);
}

// The broker's heartbeats to an idle worker leave it two heartbeats of
// margin below the two lease lifetimes after which it hands a task back.
TEST(LeaseRules, TheBrokerHeartbeatsAnIdleWorkerWithinTwoLeasesLessTwoBeats) {
  EXPECT_EQ(BrokerIdleHeartbeatMs(kSettings), 4000);  // not 5000: 2 x 3000 - 2 x 1000
  Settings s = kSettings;
  s.liveness = 10;
  EXPECT_EQ(BrokerIdleHeartbeatMs(s), IdleHeartbeatMs(s));
  s.liveness = 1;  // no margin: the normal rate
  EXPECT_EQ(BrokerIdleHeartbeatMs(s), 1000);
  s.liveness = 3;
  s.idle_heartbeat_factor = 1;
  EXPECT_EQ(BrokerIdleHeartbeatMs(s), 1000);
}

TEST(LeaseRules, AnIdleWorkerIsLostExactlyAfterTheIdleSilence) {
  Hearing idle{1000, 0, true};
  const int64_t limit = IdleSilenceMs(kSettings);  // 15000
  EXPECT_FALSE(WorkerSilent(kSettings, idle, 1000 + LeaseTtlMs(kSettings)));  // past the normal limit
  EXPECT_FALSE(WorkerSilent(kSettings, idle, 1000 + limit - 1));
  EXPECT_TRUE(WorkerSilent(kSettings, idle, 1000 + limit));
  // Its lapsed lease (a race: its idle heartbeat crossed a task) blames nothing while it is heard.
  EXPECT_EQ(CauseOfLapse(kSettings, true, idle, 1000 + limit - 1), LossCause::kLeaseLapsed);
  EXPECT_EQ(CauseOfLapse(kSettings, true, idle, 1000 + limit), LossCause::kSilent);
  EXPECT_EQ(CauseOfLapse(kSettings, false, idle, 1001), LossCause::kSilent);
}

// A worker that holds something is judged as always: by last_heard alone,
// unless a lease ended its idle rate after it was last heard.
TEST(LeaseRules, ABusyWorkerIsJudgedAsAlwaysItsSilenceCountedFromTheLease) {
  for (int64_t now : {1000, 3999, 4000, 9000}) {
    EXPECT_EQ(WorkerSilent(kSettings, Hearing{1000, 0, false}, now), WorkerSilent(kSettings, 1000, now));
    // Made busy long ago: the same.
    EXPECT_EQ(WorkerSilent(kSettings, Hearing{1000, 500, false}, now), WorkerSilent(kSettings, 1000, now));
  }
  // Heard at 1000 (an idle heartbeat), leased a task at 5000: it had no
  // reason to speak between, so it has a full lease lifetime from 5000,
  // the same as the lease itself.
  const Hearing busy{1000, 5000, false};
  EXPECT_FALSE(WorkerSilent(kSettings, busy, 5000));
  EXPECT_FALSE(WorkerSilent(kSettings, busy, 7999));
  EXPECT_TRUE(WorkerSilent(kSettings, busy, 8000));
  EXPECT_EQ(LeaseExpiry(kSettings, 5000), 8000);
  // A lease that lapses then finds it silent: the loss is suspected, as for any worker.
  EXPECT_EQ(CauseOfLapse(kSettings, true, busy, 8000), LossCause::kSilent);
  EXPECT_EQ(CauseOfLapse(kSettings, true, busy, 7999), LossCause::kLeaseLapsed);
}

// The registry keeps the hearing: an empty heartbeat of a worker that
// announced the idle rate makes it idle, a lease makes it busy from then.
TEST(LeaseRules, TheRegistryJudgesIdleWorkersByTheIdleRule) {
  WorkerRegistry registry;
  WorkerRecord old_worker, idle_worker;
  old_worker.name = "old";
  idle_worker.name = "new";
  registry.Add(old_worker, "ro", 1000).HeardHolding(false);  // never announced: never idle
  ConnectedWorker& w = registry.Add(idle_worker, "rn", 1000);
  w.idle_heartbeats = true;
  EXPECT_FALSE(w.idle);  // registered: the normal rate until a heartbeat says otherwise
  EXPECT_EQ(registry.Silent(kSettings, 4000), (std::vector<std::string>{"new", "old"}));
  w.HeardHolding(false);
  EXPECT_TRUE(w.idle);
  EXPECT_EQ(w.HeartbeatIntervalMs(kSettings), BrokerIdleHeartbeatMs(kSettings));
  EXPECT_EQ(registry.Silent(kSettings, 4000), std::vector<std::string>{"old"});
  EXPECT_EQ(registry.Silent(kSettings, 1000 + IdleSilenceMs(kSettings)),
            (std::vector<std::string>{"new", "old"}));
  // A lease at 6000: the normal rule, counted from the lease.
  w.Leased(6000);
  EXPECT_FALSE(w.idle);
  EXPECT_EQ(w.HeartbeatIntervalMs(kSettings), 1000);
  EXPECT_FALSE(w.Silent(kSettings, 8999));
  EXPECT_TRUE(w.Silent(kSettings, 9000));
  // A heartbeat listing what it holds keeps it busy; an empty one makes it idle again.
  w.last_heard_ms = 8500;
  w.HeardHolding(true);
  EXPECT_FALSE(w.idle);
  EXPECT_TRUE(w.Silent(kSettings, 11500));
  w.HeardHolding(false);
  EXPECT_FALSE(w.Silent(kSettings, 11500));
  // Its connection gone (a send failed): the normal rule again.
  w.unreachable = true;
  EXPECT_TRUE(w.Silent(kSettings, 11500));
}

TEST(LeaseRules, OnlyARegisterOnANewConnectionReleasesWhatItDoesNotList) {
  EXPECT_TRUE(RegisterReleasesUnlisted(/*repeated_on_same_connection=*/false));
  EXPECT_FALSE(RegisterReleasesUnlisted(/*repeated_on_same_connection=*/true));
}

TEST(LeaseRules, SilenceConfirmsNoDeathBeforeTheBrokerHasListenedLongEnough) {
  Settings s{200, 3, 2};
  s.death_confirm_ms = 60000;
  EXPECT_FALSE(SilenceConfirmsDeaths(s, 0));
  EXPECT_FALSE(SilenceConfirmsDeaths(s, 59999));
  EXPECT_TRUE(SilenceConfirmsDeaths(s, 60000));
}

}  // namespace
}  // namespace leaseq::rules
