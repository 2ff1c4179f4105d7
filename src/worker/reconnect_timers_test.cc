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

// A connection made late in the silence period restarts it, from the last
// look before it was seen (simulator seeds 1796081927214 and 1796090004590):
// not from when it was seen, which a stall of the owner's loop delays.
TEST(ReconnectTimersTest, AConnectionMadeRestartsTheSilenceFromTheLookBeforeIt) {
  ReconnectTimers t;
  t.Heard(1000);  // the socket opened, the broker down
  t.Connected(1560);
  EXPECT_EQ(t.NextDeadline(true, 600), 2160);
  EXPECT_TRUE(t.HeardWithin(2100, 600));
  // Seen after a stall of 490 ms: counted from the look before the stall.
  ReconnectTimers stalled;
  stalled.Heard(3134);
  stalled.Connected(3187);
  EXPECT_EQ(stalled.NextDeadline(true, 600), 3787);
  // Never earlier than what was heard.
  stalled.Heard(3700);
  stalled.Connected(3600);
  EXPECT_EQ(stalled.NextDeadline(true, 600), 4300);
}

}  // namespace
}  // namespace leaseq::worker
