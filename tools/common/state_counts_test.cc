#include "tools/common/state_counts.h"

#include <gtest/gtest.h>

namespace leaseq::tools {
namespace {

TEST(StateCounts, ParsesAndSums) {
  StateCounts a;
  ASSERT_TRUE(ParseStateCounts(nlohmann::json{{"queued", 3}, {"done", 2}, {"failed", 1}}, &a).ok());
  EXPECT_EQ(a[TaskState::kQueued], 3);
  EXPECT_EQ(a[TaskState::kWaiting], 0);
  EXPECT_EQ(a.Total(), 6);
  EXPECT_EQ(a.Terminal(), 3);
  StateCounts b;
  ASSERT_TRUE(ParseStateCounts(nlohmann::json{{"cancelled", 4}}, &b).ok());
  a.Add(b);
  EXPECT_EQ(a.Terminal(), 7);
}

TEST(StateCounts, RejectsWhatItCannotPlace) {
  StateCounts c;
  EXPECT_FALSE(ParseStateCounts(nlohmann::json{{"sleeping", 1}}, &c).ok());
  EXPECT_FALSE(ParseStateCounts(nlohmann::json{{"done", "1"}}, &c).ok());
  EXPECT_FALSE(ParseStateCounts(nlohmann::json{{"done", -1}}, &c).ok());
  EXPECT_FALSE(ParseStateCounts(nlohmann::json::array(), &c).ok());
}

}  // namespace
}  // namespace leaseq::tools
