#include "worker/reconnect_timers.h"

#include <gtest/gtest.h>

namespace leaseq::worker {
namespace {

TEST(ReconnectTimersTest, SilenceThenABackoffThatDoublesUpToTheMaximumAndResets) {
  ReconnectTimers t;
  t.Heard(1000);
  EXPECT_TRUE(t.HeardWithin(1299, 300));
  EXPECT_TRUE(t.Silent(1300, 300));
  EXPECT_EQ(t.NextDeadline(true, 300), 1300);
  EXPECT_EQ(t.Lost(1300), config::kReconnectInitialMs);
  EXPECT_EQ(t.NextDeadline(false, 300), 1300 + config::kReconnectInitialMs);
  EXPECT_FALSE(t.ReopenDue(1300 + config::kReconnectInitialMs - 1));
  EXPECT_TRUE(t.ReopenDue(1300 + config::kReconnectInitialMs));
  int wait = 0;
  for (int i = 0; i < 10; ++i) wait = t.Lost(2000);
  EXPECT_EQ(wait, config::kReconnectMaxMs);
  t.RetryLater(5000);
  EXPECT_EQ(t.NextDeadline(false, 300), 5000 + config::kReconnectMaxMs);
  t.ResetBackoff();
  EXPECT_EQ(t.Lost(6000), config::kReconnectInitialMs);
}

}  // namespace
}  // namespace leaseq::worker
