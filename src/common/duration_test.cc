#include "common/duration.h"

#include <gtest/gtest.h>

namespace leaseq {
namespace {

int64_t Ms(const std::string& text) {
  int64_t ms = -1;
  Status s = ParseDuration(text, &ms);
  EXPECT_TRUE(s.ok()) << text << ": " << s.message();
  return ms;
}

std::string Refusal(const std::string& text) {
  int64_t ms = 12345;
  Status s = ParseDuration(text, &ms);
  EXPECT_FALSE(s.ok()) << text << " was accepted as " << ms;
  EXPECT_EQ(ms, 12345) << "a refusal must not write the output";
  return s.message();
}

TEST(Duration, EachUnit) {
  EXPECT_EQ(Ms("1500ms"), 1500);
  EXPECT_EQ(Ms("30s"), 30000);
  EXPECT_EQ(Ms("5m"), 300000);
  EXPECT_EQ(Ms("2h"), 7200000);
  EXPECT_EQ(Ms("0s"), 0);
  EXPECT_EQ(Ms("007s"), 7000);
}

TEST(Duration, CompoundsInDecreasingUnits) {
  EXPECT_EQ(Ms("1m30s"), 90000);
  EXPECT_EQ(Ms("2h15m"), 8100000);
  EXPECT_EQ(Ms("1h0m5s250ms"), 3605250);
}

TEST(Duration, RefusesWhatIsAmbiguousOrMalformed) {
  EXPECT_NE(Refusal("").find("empty"), std::string::npos);
  EXPECT_NE(Refusal("10").find("no unit"), std::string::npos);
  EXPECT_NE(Refusal("-1s").find("negative"), std::string::npos);
  EXPECT_NE(Refusal("1.5s").find("whole numbers"), std::string::npos);
  EXPECT_NE(Refusal("5x").find("unknown unit"), std::string::npos);
  EXPECT_NE(Refusal("30s5m").find("large to small"), std::string::npos);
  EXPECT_NE(Refusal("5s5s").find("large to small"), std::string::npos);
  Refusal(" 5s");
  Refusal("5s ");
  Refusal("5 s");
  Refusal("s");
  Refusal("+5s");
  Refusal("5S");
  // Every message quotes the text and shows the accepted forms.
  EXPECT_NE(Refusal("1.5s").find("'1.5s'"), std::string::npos);
  EXPECT_NE(Refusal("10").find("1500ms"), std::string::npos);
}

TEST(Duration, RefusesOverflowAndAbsurdLengths) {
  EXPECT_NE(Refusal("99999999999999999999999s").find("too long"), std::string::npos);
  EXPECT_NE(Refusal("9223372036854775807ms").find("too long"), std::string::npos);
  EXPECT_NE(Refusal("876001h").find("too long"), std::string::npos);  // > 100 years
  EXPECT_EQ(Ms("876000h"), 876000LL * 3600000);                       // exactly 100 years
  EXPECT_NE(Refusal("876000h1h").find("large to small"), std::string::npos);
  EXPECT_NE(Refusal("875999h60m1ms").find("too long"), std::string::npos);
}

TEST(Duration, FormatsForMessagesAndReadsBack) {
  EXPECT_EQ(FormatDuration(30000), "30s");
  EXPECT_EQ(FormatDuration(1000), "1s");
  EXPECT_EQ(FormatDuration(1500), "1500ms");
  EXPECT_EQ(FormatDuration(90000), "1m30s");
  EXPECT_EQ(FormatDuration(300000), "5m");
  EXPECT_EQ(FormatDuration(7200000), "2h");
  EXPECT_EQ(FormatDuration(3605000), "1h5s");
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(-5), "0s");
  for (int64_t ms : std::initializer_list<int64_t>{1, 999, 1000, 61000, 3600000, 3601000, 86400000,
                                                   kMaxDurationMs}) {
    EXPECT_EQ(Ms(FormatDuration(ms)), ms) << FormatDuration(ms);
  }
}

}  // namespace
}  // namespace leaseq
