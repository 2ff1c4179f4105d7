#include "worker/builtin_functions.h"

#include <gtest/gtest.h>

#include <chrono>

namespace leaseq::worker {
namespace {

class Builtins : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(AddBuiltinFunctions(&registry_).ok()); }
  FnStatus Call(const std::string& name, std::string_view in, std::string* out) {
    auto f = registry_.Find(name);
    EXPECT_NE(f, nullptr) << name;
    if (f == nullptr) return FnStatus::Error("missing");
    return (*f)(in, out);
  }
  FunctionRegistry registry_;
};

TEST_F(Builtins, AreNoopEchoAndSleep) {
  EXPECT_EQ(registry_.Names(), (std::vector<std::string>{"echo", "noop", "sleep"}));
  FunctionRegistry again = registry_;
  EXPECT_FALSE(AddBuiltinFunctions(&again).ok());  // the names are taken
}

TEST_F(Builtins, NoopGivesAnEmptyResultAndEchoTheInput) {
  std::string out;
  EXPECT_TRUE(Call("noop", "ignored", &out).ok());
  EXPECT_EQ(out, "");
  const std::string bytes("in\0put\n\xff", 8);
  EXPECT_TRUE(Call("echo", bytes, &out).ok());
  EXPECT_EQ(out, bytes);
  EXPECT_TRUE(Call("echo", "", &out).ok());
  EXPECT_EQ(out, "");
}

TEST_F(Builtins, SleepSleepsTheGivenMilliseconds) {
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(Call("sleep", "120\n", &out).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(120));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(Call("sleep", "0", &out).ok());
}

TEST_F(Builtins, SleepRefusesWhatIsNotANumberOfMilliseconds) {
  std::string out;
  for (const char* bad : {"", "  ", "abc", "-5", "1.5", "10ms", "1 2", "+3", "0x10"}) {
    FnStatus s = Call("sleep", bad, &out);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.message(), "sleep: input must be a number of milliseconds") << bad;
  }
  FnStatus s = Call("sleep", "99999999999999999999999", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("at most"), std::string::npos) << s.message();
}

TEST(ParseSleepMs, AcceptsDecimalWithSurroundingWhitespace) {
  int64_t ms = -1;
  ASSERT_TRUE(ParseSleepMs(" \t42\r\n", &ms).ok());
  EXPECT_EQ(ms, 42);
  ASSERT_TRUE(ParseSleepMs(std::to_string(kMaxSleepMs), &ms).ok());
  EXPECT_EQ(ms, kMaxSleepMs);
  EXPECT_FALSE(ParseSleepMs(std::to_string(kMaxSleepMs + 1), &ms).ok());
}

}  // namespace
}  // namespace leaseq::worker
