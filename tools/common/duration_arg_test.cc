#include "tools/common/duration_arg.h"

#include <gtest/gtest.h>

namespace leaseq::tools {
namespace {

int64_t Ms(const char* text) {
  int64_t ms = -1;
  Status s = ParseDurationArg(text, &ms);
  EXPECT_TRUE(s.ok()) << text << ": " << s.message();
  return ms;
}

TEST(DurationArg, TheFourUnits) {
  EXPECT_EQ(Ms("1500ms"), 1500);
  EXPECT_EQ(Ms("30s"), 30'000);
  EXPECT_EQ(Ms("5m"), 300'000);
  EXPECT_EQ(Ms("2h"), 7'200'000);
  EXPECT_EQ(Ms("0s"), 0);
}

TEST(DurationArg, AnythingElseIsRefusedSayingWhatIsAccepted) {
  for (const char* bad : {"", "30", "s", "-5s", "+5s", "1.5s", "5 m", "5min", "3d", "10sec",
                          "99999999999999999999h", "9223372036854775807h"}) {
    int64_t ms = 7;
    Status s = ParseDurationArg(bad, &ms);
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << bad;
    EXPECT_NE(s.message().find("1500ms, 30s, 5m, 2h"), std::string::npos) << s.message();
    EXPECT_EQ(ms, 7) << bad;
  }
}

}  // namespace
}  // namespace leaseq::tools
