#include "common/timestamp.h"

#include <gtest/gtest.h>

namespace leaseq {
namespace {

int64_t Ms(const std::string& text) {
  int64_t ms = -1;
  Status s = ParseRfc3339(text, &ms);
  EXPECT_TRUE(s.ok()) << text << ": " << s.message();
  return ms;
}

std::string Refusal(const std::string& text) {
  int64_t ms = 7;
  Status s = ParseRfc3339(text, &ms);
  EXPECT_FALSE(s.ok()) << text << " was accepted as " << ms;
  EXPECT_EQ(ms, 7);
  return s.message();
}

TEST(Timestamp, UtcAndOffsets) {
  EXPECT_EQ(Ms("1970-01-01T00:00:00Z"), 0);
  // date -u -d 2026-12-01T10:00:00Z +%s  ->  1796119200
  EXPECT_EQ(Ms("2026-12-01T10:00:00Z"), 1796119200000);
  EXPECT_EQ(Ms("2026-12-01T11:00:00+01:00"), 1796119200000);
  EXPECT_EQ(Ms("2026-12-01T04:30:00-05:30"), 1796119200000);
  EXPECT_EQ(Ms("2026-12-01t10:00:00z"), 1796119200000);
  EXPECT_EQ(Ms("2026-12-01 10:00:00Z"), 1796119200000);
}

TEST(Timestamp, FractionsKeepMilliseconds) {
  EXPECT_EQ(Ms("2026-12-01T10:00:00.25Z"), 1796119200250);
  EXPECT_EQ(Ms("2026-12-01T10:00:00.123456789Z"), 1796119200123);
  EXPECT_EQ(Ms("2026-12-01T10:00:00.0Z"), 1796119200000);
}

TEST(Timestamp, CalendarEdges) {
  EXPECT_EQ(Ms("2024-02-29T00:00:00Z"), Ms("2024-02-28T00:00:00Z") + 86400000);
  EXPECT_EQ(Ms("2000-02-29T00:00:00Z"), 951782400000);
  EXPECT_EQ(Ms("2016-12-31T23:59:60Z"), Ms("2017-01-01T00:00:00Z"));  // leap second
  Refusal("2023-02-29T00:00:00Z");
  Refusal("1900-02-29T00:00:00Z");
  Refusal("2026-04-31T00:00:00Z");
  Refusal("2026-13-01T00:00:00Z");
  Refusal("2026-00-01T00:00:00Z");
  Refusal("2026-12-01T24:00:00Z");
  Refusal("2026-12-01T10:60:00Z");
}

TEST(Timestamp, RefusesWhatIsNotRfc3339) {
  EXPECT_NE(Refusal("2026-12-01T10:00:00").find("time zone is missing"), std::string::npos);
  EXPECT_NE(Refusal("").find("YYYY-MM-DD"), std::string::npos);
  EXPECT_NE(Refusal("1969-12-31T23:59:59Z").find("before 1970"), std::string::npos);
  EXPECT_NE(Refusal("2026-12-01").find("expected T"), std::string::npos);
  Refusal("2026-12-1T10:00:00Z");
  Refusal("2026-12-01T10:00Z");
  Refusal("2026-12-01T10:00:00.Z");
  Refusal("2026-12-01T10:00:00+0100");
  Refusal("2026-12-01T10:00:00+24:00");
  Refusal("2026-12-01T10:00:00Z ");
  Refusal("tomorrow");
  Refusal("1796119200");
  EXPECT_NE(Refusal("x").find("2026-12-01T10:00:00Z"), std::string::npos);
}

TEST(Timestamp, FormatsUtcAndReadsBack) {
  EXPECT_EQ(FormatRfc3339(1796119200000), "2026-12-01T10:00:00Z");
  EXPECT_EQ(FormatRfc3339(1796119200250), "2026-12-01T10:00:00.250Z");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  for (int64_t ms : std::initializer_list<int64_t>{0, 1, 951782400000, 1796119200999, 4102444799000}) {
    EXPECT_EQ(Ms(FormatRfc3339(ms)), ms) << FormatRfc3339(ms);
  }
}

}  // namespace
}  // namespace leaseq
