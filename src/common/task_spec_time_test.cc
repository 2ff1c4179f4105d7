// TaskSpec: the fields of issue 8 (timeout, delay, not_before,
// input_base64) and the stricter checks of names and argv.
#include <gtest/gtest.h>

#include "common/config.h"
#include "common/task_spec.h"

namespace leaseq {
namespace {

using namespace std::string_literals;

std::string Refusal(const std::string& line) {
  TaskSpec t;
  Status s = ParseTaskLine(line, &t);
  EXPECT_FALSE(s.ok()) << line;
  return s.message();
}

TaskSpec Parsed(const std::string& line) {
  TaskSpec t;
  Status s = ParseTaskLine(line, &t);
  EXPECT_TRUE(s.ok()) << line << ": " << s.message();
  return t;
}

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(TaskSpecTime, TimeoutAsDurationOrMilliseconds) {
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "timeout": "30s"})").timeout_ms, 30000);
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "timeout": "1m30s"})").timeout_ms, 90000);
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "timeout": 1500})").timeout_ms, 1500);
  EXPECT_EQ(Parsed(R"({"cmd": ["x"]})").timeout_ms, 0);
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "timeout": "10"})"), "field 'timeout': bad duration"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "timeout": "0s"})"), "longer than 0"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "timeout": -5})"), "'timeout'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "timeout": 1.5})"), "'timeout'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "timeout": 18446744073709551615})"), "'timeout'"));
}

TEST(TaskSpecTime, NotBeforeAsRfc3339OrMillisecondsAndDelay) {
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "not_before": "2026-12-01T10:00:00Z"})").not_before_ms,
            1796119200000);
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "not_before": "2026-12-01T11:00:00+01:00"})").not_before_ms,
            1796119200000);
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "not_before": 1796119200000})").not_before_ms, 1796119200000);
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "delay": "2s"})").delay_ms, 2000);
  EXPECT_EQ(Parsed(R"({"cmd": ["x"], "delay": 250})").delay_ms, 250);
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "not_before": "2026-12-01T10:00:00"})"),
                  "field 'not_before': bad time"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "not_before": -1})"), "'not_before'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "not_before": true})"), "'not_before'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "delay": "1.5s"})"), "'delay'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "delay": "1s", "not_before": 5})"), "not both"));
}

TEST(TaskSpecTime, TimesAreCanonicalAsMillisecondsAndAbsentWhenUnset) {
  TaskSpec a = Parsed(R"({"key": "k", "cmd": ["x"], "timeout": "30s", "delay": "1m"})");
  TaskSpec b = Parsed(R"({"key": "k", "cmd": ["x"], "timeout": 30000, "delay": 60000})");
  EXPECT_EQ(CanonicalFields(a), CanonicalFields(b));
  TaskSpec c = Parsed(R"({"key": "k", "cmd": ["x"], "timeout": "31s", "delay": "1m"})");
  EXPECT_NE(CanonicalFields(a), CanonicalFields(c));
  // A delay and the same moment as not_before are different requests.
  TaskSpec d = Parsed(R"({"key": "k", "cmd": ["x"], "timeout": "30s", "not_before": 60000})");
  EXPECT_NE(CanonicalFields(a), CanonicalFields(d));
  // Unset: the canonical text of schema version 1, so that tasks stored
  // before these fields existed still compare equal on resubmission.
  EXPECT_EQ(CanonicalFields(Parsed(R"({"cmd": ["x"]})")),
            R"({"after":[],"cmd":["x"],"input":"","priority":0,"queue":"default","retries":0})");
  for (const TaskSpec& t : {a, d}) {
    TaskSpec back = Parsed(TaskToLine(t));
    EXPECT_EQ(CanonicalFields(back), CanonicalFields(t));
  }
}

TEST(TaskSpecTime, BinaryInputTravelsAsBase64AndComesBackWhole) {
  TaskSpec t;
  t.key = "bin";
  t.fn = "echo";
  for (int i = 0; i < 256; ++i) t.input += static_cast<char>(i);
  const std::string line = TaskToLine(t);
  EXPECT_TRUE(Has(line, "\"input_base64\":")) << line;
  EXPECT_FALSE(Has(line, "\"input\":")) << line;
  EXPECT_EQ(Parsed(line).input, t.input);
  TaskSpec from_json;
  ASSERT_TRUE(ParseTaskJson(nlohmann::json::parse(TaskToJson(t).dump()), &from_json).ok());
  EXPECT_EQ(from_json.input, t.input);
  // Text with a NUL is UTF-8: it stays readable.
  t.input = "a\0b"s;
  EXPECT_TRUE(Has(TaskToLine(t), R"("input":"a\u0000b")")) << TaskToLine(t);
  EXPECT_EQ(Parsed(TaskToLine(t)).input, t.input);
  EXPECT_TRUE(Has(Refusal(R"({"fn": "echo", "input": "a", "input_base64": "YQ=="})"), "not both"));
  EXPECT_TRUE(Has(Refusal(R"({"fn": "echo", "input_base64": "YQ="})"), "'input_base64'"));
}

TEST(TaskSpecTime, InputLargerThanTheLimitIsRefused) {
  TaskSpec t;
  t.key = "big";
  t.fn = "echo";
  t.input.assign(static_cast<size_t>(config::kMaxInputBytes), 'x');
  EXPECT_EQ(Parsed(TaskToLine(t)).input.size(), t.input.size());
  t.input += 'x';
  EXPECT_TRUE(Has(Refusal(TaskToLine(t)), "more than the limit"));
}

TEST(TaskSpecValidation, NamesWithControlCharactersOrBadUtf8AreRefused) {
  EXPECT_TRUE(Has(Refusal(R"({"key": "a\nb", "cmd": ["x"]})"), "field 'key' must not contain control"));
  EXPECT_TRUE(Has(Refusal(R"({"key": "a\tb", "cmd": ["x"]})"), "'key'"));
  EXPECT_TRUE(Has(Refusal(R"({"key": "a\u0000b", "cmd": ["x"]})"), "'key'"));
  EXPECT_TRUE(Has(Refusal(R"({"key": "a\u0085b", "cmd": ["x"]})"), "'key'"));
  EXPECT_TRUE(Has(Refusal(R"({"key": "a\u007fb", "cmd": ["x"]})"), "'key'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "after": ["ok", "b\r"]})"), "field 'after'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "after": [""]})"), "field 'after'"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["x"], "queue": "q\n"})"), "field 'queue'"));
  EXPECT_TRUE(Has(Refusal(R"({"fn": "e\u001bcho"})"), "field 'fn'"));
  EXPECT_EQ(Parsed(R"({"key": "caf\u00e9 \u00a0x", "cmd": ["x"]})").key, "caf\xC3\xA9 \xC2\xA0x");
  // Invalid UTF-8 cannot come from JSON text (the parser refuses it), but
  // it can from leaseq-submit's flags, which build the JSON object directly.
  TaskSpec t;
  Status s = ParseTaskJson({{"key", "caf\xE9"}, {"cmd", {"x"}}}, &t);
  EXPECT_TRUE(Has(s.message(), "field 'key' must be valid UTF-8")) << s.message();
  s = ParseTaskJson({{"after", {"\xFF"}}, {"cmd", {"x"}}}, &t);
  EXPECT_TRUE(Has(s.message(), "field 'after' must be valid UTF-8")) << s.message();
}

TEST(TaskSpecValidation, ArgvWithNulIsRefusedNotCut) {
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["echo", "a\u0000b"]})"),
                  "field 'cmd': argument 1 contains a NUL byte"));
  EXPECT_TRUE(Has(Refusal(R"({"cmd": ["ec\u0000ho"]})"), "the program name contains a NUL"));
  // Other control characters are ordinary bytes of an argument.
  EXPECT_EQ(Parsed(R"({"cmd": ["sh", "-c", "echo a\necho b\t"]})").cmd[2], "echo a\necho b\t");
  TaskSpec t;
  Status s = ParseTaskJson({{"cmd", {"echo", "caf\xE9"}}}, &t);
  EXPECT_TRUE(Has(s.message(), "argument 1 is not valid UTF-8")) << s.message();
}

}  // namespace
}  // namespace leaseq
