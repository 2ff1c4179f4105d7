// AdaptivePrefetch on given run times: deep for short tasks, none when every
// slot runs a long one, today's default before any evidence, and no change
// on noise.
#include "worker/adaptive_prefetch.h"

#include <gtest/gtest.h>

namespace leaseq::worker {
namespace {

void Feed(AdaptivePrefetch& p, int64_t ms, int n) {
  for (int i = 0; i < n; ++i) p.Finished(ms);
}

TEST(AdaptivePrefetch, StartsAtNoneAndStaysThereWithoutRunTimes) {
  AdaptivePrefetch p(4);
  EXPECT_EQ(p.value(), 0);
  EXPECT_FALSE(p.Update(0));
  EXPECT_FALSE(p.Update(4));
  EXPECT_EQ(p.value(), 0);
}

TEST(AdaptivePrefetch, InstantTasksGetTheMaximum) {
  AdaptivePrefetch p(4);
  p.Finished(0);
  EXPECT_TRUE(p.Update(0));
  EXPECT_EQ(p.value(), AdaptivePrefetch::MaxFor(4));
  EXPECT_EQ(AdaptivePrefetch::MaxFor(4), 256);
  EXPECT_EQ(AdaptivePrefetch::MaxFor(1), 64);
  EXPECT_EQ(AdaptivePrefetch::MaxFor(64), 1024);
  EXPECT_FALSE(p.Update(0));  // no change: nothing to announce
}

TEST(AdaptivePrefetch, HoldsAboutTheBudgetPerSlot) {
  AdaptivePrefetch p(4);
  Feed(p, 2, AdaptivePrefetch::kWindow);  // 2 ms each: 4 x 25 / 2 = 50
  EXPECT_TRUE(p.Update(0));
  EXPECT_EQ(p.value(), 50);
  AdaptivePrefetch q(4);
  Feed(q, 50, AdaptivePrefetch::kWindow);  // 50 ms each: 4 x 25 / 50 = 2
  EXPECT_TRUE(q.Update(0));
  EXPECT_EQ(q.value(), 2);
  Feed(q, 100, AdaptivePrefetch::kWindow);  // 100 ms each: 1, within a factor of 2
  EXPECT_FALSE(q.Update(0));
  Feed(q, 1000, AdaptivePrefetch::kWindow);  // 1 s each: none
  EXPECT_TRUE(q.Update(0));
  EXPECT_EQ(q.value(), 0);
  AdaptivePrefetch r(4);
  Feed(r, 1000, AdaptivePrefetch::kWindow);  // never above 0
  EXPECT_FALSE(r.Update(0));
  EXPECT_EQ(r.value(), 0);
}

TEST(AdaptivePrefetch, NoiseWithinAFactorOfTwoChangesNothing) {
  AdaptivePrefetch p(4);
  Feed(p, 2, AdaptivePrefetch::kWindow);
  ASSERT_TRUE(p.Update(0));
  ASSERT_EQ(p.value(), 50);
  // Run times between 1.1 and 3.9 ms: figures between 26 and 90.
  for (int i = 0; i < 200; ++i) {
    p.Finished(i % 3 == 0 ? 3 : 2);
    EXPECT_FALSE(p.Update(0)) << i;
  }
  EXPECT_EQ(p.value(), 50);
}

TEST(AdaptivePrefetch, ALongAttemptTakesItsSlotOutAtOnceAndAllLongMeansNone) {
  AdaptivePrefetch p(4);
  Feed(p, 0, 8);
  ASSERT_TRUE(p.Update(0));
  ASSERT_EQ(p.value(), 256);
  EXPECT_EQ(p.LongAfterMs(), 4 * AdaptivePrefetch::kBudgetMs);
  EXPECT_FALSE(p.Update(3));  // one slot still runs instant tasks
  EXPECT_TRUE(p.Update(4));   // every slot is taken by a long one
  EXPECT_EQ(p.value(), 0);
  EXPECT_FALSE(p.Update(4));
  EXPECT_TRUE(p.Update(0));   // they ended (and were not long enough to enter the mean much)
  EXPECT_EQ(p.value(), 256);
}

TEST(AdaptivePrefetch, ALongRunTimeInTheWindowLowersItUntilItLeaves) {
  AdaptivePrefetch p(4);
  Feed(p, 0, AdaptivePrefetch::kWindow);
  ASSERT_TRUE(p.Update(0));
  p.Finished(1000);  // mean 31 ms: 4 x 25 / 31 = 3
  EXPECT_TRUE(p.Update(0));
  EXPECT_EQ(p.value(), 3);
  Feed(p, 0, AdaptivePrefetch::kWindow - 1);  // still in the window
  EXPECT_FALSE(p.Update(0));
  p.Finished(0);  // gone
  EXPECT_TRUE(p.Update(0));
  EXPECT_EQ(p.value(), 256);
}

TEST(AdaptivePrefetch, TasksAllAsLongAsTheMeanAreNotLong) {
  AdaptivePrefetch p(2);
  Feed(p, 200, AdaptivePrefetch::kWindow);
  EXPECT_EQ(p.LongAfterMs(), 800);  // 4x the mean
  EXPECT_FALSE(p.Update(0));
  EXPECT_EQ(p.value(), 0);          // 2 x 25 / 200
  // Up from 0 only at a figure of 2 or more; down from 2 below 1.
  AdaptivePrefetch q(1);
  Feed(q, 20, AdaptivePrefetch::kWindow);  // 1 x 25 / 20 = 1.25: stays at 0
  EXPECT_FALSE(q.Update(0));
  Feed(q, 10, AdaptivePrefetch::kWindow);  // 2.5
  EXPECT_TRUE(q.Update(0));
  EXPECT_EQ(q.value(), 2);
  Feed(q, 20, AdaptivePrefetch::kWindow);  // 1.25: stays at 2
  EXPECT_FALSE(q.Update(0));
  Feed(q, 30, AdaptivePrefetch::kWindow);  // 0.83: down to 0
  EXPECT_TRUE(q.Update(0));
  EXPECT_EQ(q.value(), 0);
}

TEST(AdaptivePrefetch, NegativeRunTimesCountAsZero) {
  AdaptivePrefetch p(1);
  p.Finished(-5);
  EXPECT_EQ(p.MeanMs(), 0.0);
}

}  // namespace
}  // namespace leaseq::worker
