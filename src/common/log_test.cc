#include "common/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace leaseq::log {
namespace {

constexpr int64_t kNoon = 1764504000123;  // 2025-11-30T12:00:00.123Z

TEST(Log, TextLinesHaveAnRfc3339TimeALevelAndTheComponent) {
  Configure("leaseq-broker", Format::kText);
  EXPECT_EQ(FormatLine(Level::kWarn, "disk full", kNoon),
            "2025-11-30T12:00:00.123Z warn leaseq-broker: disk full");
}

TEST(Log, JsonLinesAreOneObjectEachEvenWithNewlinesAndBadUtf8) {
  Configure("leaseq-worker[w1]", Format::kJson);
  std::string line = FormatLine(Level::kError, "boom\nline 2 \xff", kNoon);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], "2025-11-30T12:00:00.123Z");
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["component"], "leaseq-worker[w1]");
  EXPECT_EQ(j["message"].get<std::string>().substr(0, 11), "boom\nline 2");
  Configure("leaseq", Format::kText);
}

TEST(Log, ParseFormatRefusesUnknownNames) {
  Format f;
  EXPECT_TRUE(ParseFormat("json", &f).ok());
  EXPECT_EQ(f, Format::kJson);
  EXPECT_FALSE(ParseFormat("xml", &f).ok());
}

}  // namespace
}  // namespace leaseq::log
