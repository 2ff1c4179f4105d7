#include "broker/default_timeouts.h"

#include <gtest/gtest.h>

namespace leaseq {
namespace {

TEST(DefaultTimeouts, NoneMeansNoLimitUnlessTheTaskHasOne) {
  DefaultTimeouts d;
  EXPECT_EQ(d.For("default", 0), 0);
  EXPECT_EQ(d.For("default", 1500), 1500);
}

TEST(DefaultTimeouts, PerQueueBeatsAllQueuesAndTheTaskBeatsBoth) {
  DefaultTimeouts d;
  ASSERT_TRUE(d.Add("30m").ok());
  ASSERT_TRUE(d.Add("gpu=2h").ok());
  ASSERT_TRUE(d.Add("a=b=5s").ok());  // queue "a=b"
  EXPECT_EQ(d.For("default", 0), 30 * 60000);
  EXPECT_EQ(d.For("gpu", 0), 2 * 3600000);
  EXPECT_EQ(d.For("a=b", 0), 5000);
  EXPECT_EQ(d.For("gpu", 1000), 1000);
}

TEST(DefaultTimeouts, RefusesBadValuesAndRepeats) {
  DefaultTimeouts d;
  EXPECT_FALSE(d.Add("").ok());
  EXPECT_FALSE(d.Add("10").ok());
  EXPECT_FALSE(d.Add("0s").ok());
  EXPECT_FALSE(d.Add("=5s").ok());
  EXPECT_FALSE(d.Add("gpu=").ok());
  EXPECT_FALSE(d.Add("gpu=1.5s").ok());
  ASSERT_TRUE(d.Add("gpu=5s").ok());
  Status s = d.Add("gpu=6s");
  EXPECT_NE(s.message().find("twice for queue 'gpu'"), std::string::npos) << s.message();
  ASSERT_TRUE(d.Add("1m").ok());
  EXPECT_FALSE(d.Add("2m").ok());
  EXPECT_EQ(d.For("gpu", 0), 5000);
  EXPECT_EQ(d.For("other", 0), 60000);
}

}  // namespace
}  // namespace leaseq
