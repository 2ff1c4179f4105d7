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
