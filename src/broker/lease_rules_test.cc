#include "broker/lease_rules.h"

#include <gtest/gtest.h>

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
  EXPECT_STREQ(BlameText(Blame::kNone), "withdrawn");
  EXPECT_STREQ(BlameText(Blame::kSuspected), "suspected");
  EXPECT_STREQ(BlameText(Blame::kDeath), "death");
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
  ErrorDecision d = OnAttemptFailed(0, 0, 5000);
  EXPECT_EQ(d.errors, 1);
  EXPECT_FALSE(d.retry);
}

TEST(LeaseRules, FailedAttemptIsRetriedWhileRetriesRemain) {
  const int64_t now = 1'700'000'000'000;
  ErrorDecision first = OnAttemptFailed(0, 2, now);
  EXPECT_EQ(first.errors, 1);
  EXPECT_TRUE(first.retry);
  EXPECT_EQ(first.ready_at, now + RetryBackoffMs(1));
  ErrorDecision second = OnAttemptFailed(1, 2, now);
  EXPECT_EQ(second.errors, 2);
  EXPECT_TRUE(second.retry);
  EXPECT_EQ(second.ready_at, now + RetryBackoffMs(2));
  ErrorDecision third = OnAttemptFailed(2, 2, now);
  EXPECT_EQ(third.errors, 3);
  EXPECT_FALSE(third.retry);
}

TEST(LeaseRules, PermanentFailureIsNeverRetried) {
  ErrorDecision d = OnAttemptFailed(0, 3, 1'700'000'000'000, /*permanent=*/true);
  EXPECT_EQ(d.errors, 1);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.ready_at, 0);
}

TEST(LeaseRules, RetryBackoffDoublesAndIsCapped) {
  EXPECT_EQ(RetryBackoffMs(1), config::kRetryBackoffMs);
  EXPECT_EQ(RetryBackoffMs(2), 2 * config::kRetryBackoffMs);
  EXPECT_EQ(RetryBackoffMs(3), 4 * config::kRetryBackoffMs);
  for (int64_t n = 1; n < 40; ++n) {
    EXPECT_LE(RetryBackoffMs(n), RetryBackoffMs(n + 1)) << n;
    EXPECT_LE(RetryBackoffMs(n), config::kRetryBackoffMaxMs) << n;
  }
  EXPECT_EQ(RetryBackoffMs(1000), config::kRetryBackoffMaxMs);
  EXPECT_EQ(RetryBackoffMs(int64_t{1} << 40), config::kRetryBackoffMaxMs);
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
