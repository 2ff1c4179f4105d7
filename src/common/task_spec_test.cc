#include "common/task_spec.h"

#include <gtest/gtest.h>

namespace leaseq {
namespace {

TEST(TaskSpec, OnlyCmdIsRequired) {
  TaskSpec t;
  ASSERT_TRUE(ParseTaskLine(R"({"cmd": ["echo", "hi"]})", &t).ok());
  EXPECT_EQ(t.cmd.size(), 2u);
  EXPECT_EQ(t.queue, "default");
  EXPECT_EQ(t.retries, 0);
}

TEST(TaskSpec, AllFields) {
  TaskSpec t;
  ASSERT_TRUE(ParseTaskLine(R"({"key": "k", "cmd": ["sh", "-c", "x"], "input": "in",
      "after": ["a", "b"], "retries": 2, "priority": -1, "queue": "gpu"})", &t).ok());
  EXPECT_EQ(t.key, "k");
  EXPECT_EQ(t.after, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.retries, 2);
  EXPECT_EQ(t.priority, -1);
  EXPECT_EQ(t.queue, "gpu");
}

TEST(TaskSpec, BadInputNamesTheProblem) {
  TaskSpec t;
  auto msg = [&](const std::string& line) { return ParseTaskLine(line, &t).message(); };
  EXPECT_NE(msg("{\"cmd\": [\"x\"]"), "");
  EXPECT_NE(msg(R"({"input": "x"})").find("missing field 'cmd'"), std::string::npos);
  EXPECT_NE(msg(R"({"cmd": []})").find("'cmd'"), std::string::npos);
  EXPECT_NE(msg(R"({"cmd": "echo hi"})").find("'cmd'"), std::string::npos);
  EXPECT_NE(msg(R"({"cmd": ["x"], "cmdd": 1})").find("unknown field 'cmdd'"), std::string::npos);
  EXPECT_NE(msg(R"({"cmd": ["x"], "retries": -1})").find("'retries'"), std::string::npos);
  EXPECT_NE(msg(R"({"cmd": ["x"], "after": "k"})").find("'after'"), std::string::npos);
  EXPECT_NE(msg("[1]"), "");
}

TEST(TaskSpec, CanonicalFieldsIgnoreKeyAndFieldOrder) {
  TaskSpec a, b;
  ASSERT_TRUE(ParseTaskLine(R"({"key": "a", "cmd": ["x"], "priority": 1})", &a).ok());
  ASSERT_TRUE(ParseTaskLine(R"({"priority": 1, "cmd": ["x"], "key": "b"})", &b).ok());
  EXPECT_EQ(CanonicalFields(a), CanonicalFields(b));
  b.priority = 2;
  EXPECT_NE(CanonicalFields(a), CanonicalFields(b));
}

// CanonicalFields is written by hand; the stored `spec` of every task is
// its text, so it must stay byte for byte the JSON tree's dump (files
// written by earlier versions keep recognising a resubmission).
TEST(TaskSpec, CanonicalFieldsAndLinesAreTheJsonTreesText) {
  std::vector<TaskSpec> specs(1);
  auto add = [&](auto change) {
    TaskSpec t;
    change(t);
    specs.push_back(t);
  };
  add([](TaskSpec& t) { t.fn = "noop"; });
  add([](TaskSpec& t) { t.cmd = {"sh", "-c", "echo \"a\\b\"\n\t\x01\x1f\x7f/", "\xc3\xa9\xe2\x82\xac"}; });
  add([](TaskSpec& t) {
    t.fn = "f\xf0\x9f\x98\x80";
    t.input = "text\r\n\b\f";
    t.after = {"a", "b\"", "a"};
    t.retries = 3;
    t.priority = -7;
    t.queue = "q\\x";
  });
  add([](TaskSpec& t) {
    t.cmd = {"x"};
    t.input = std::string("\xff\x00\x01bin", 6);  // not UTF-8: base64
    t.timeout_ms = 1500;
    t.delay_ms = 60000;
  });
  add([](TaskSpec& t) {
    t.cmd = {"x"};
    t.not_before_ms = 1796000000000;
    t.priority = INT64_MIN;
    t.retries = INT64_MAX;
  });
  add([](TaskSpec& t) { t.cmd = {"bad \xff utf-8"}; });  // the tree's replacement
  add([](TaskSpec& t) {
    t.fn = "g";
    t.after = {"\xc0\x80"};
    t.queue = "";
  });
  for (auto& t : specs) {
    EXPECT_EQ(CanonicalFields(t), CanonicalFieldsJson(t));
    EXPECT_EQ(TaskToLine(t), TaskToLineJson(t));
    t.key = "t-0190\"k\xc3\xa9";
    EXPECT_EQ(TaskToLine(t), TaskToLineJson(t));
    t.key = "bad\xff";
    EXPECT_EQ(TaskToLine(t), TaskToLineJson(t));
  }
}

// ParseTaskLine reads simple lines without a JSON tree: whatever it takes
// that way, and whatever it refuses, must be what the JSON path makes of
// the same line (the same task, or the same error).
TEST(TaskSpec, LinesReadTheSameWithOrWithoutTheJsonTree) {
  const std::vector<std::string> lines = {
      R"({"fn":"noop"})",
      R"({"fn":"noop","key":"t-0190aa"})",
      R"({"cmd":["true"],"key":"k"})",
      R"({"cmd":["sh","-c","echo hi",""],"input":"in put","key":"k2","queue":"q"})",
      R"({"after":["a","b","a"],"fn":"f","priority":-12,"retries":3})",
      R"({"after":[],"fn":"f","priority":0,"retries":0,"input":""})",
      R"({"fn":"f","priority":123456789012345678})",
      R"({"fn":"f","priority":1234567890123456789})",
      R"({"fn":"f","priority":-0})",
      R"({"fn":"f","priority":01})",
      R"({"fn":"f","priority":1.5})",
      R"({"fn":"f","priority":1e3})",
      R"({"fn":"f","retries":-1})",
      R"({"fn":"f","retries":"1"})",
      R"({"fn":"f","fn":"g"})",
      R"({"fn":"f","cmd":["x"]})",
      R"({"cmd":[]})",
      R"({"cmd":["x"],"after":[""]})",
      R"({"fn":""})",
      R"({"fn":"f","key":""})",
      R"({"fn":"f","queue":""})",
      R"({"fn":"f","nope":1})",
      R"({"fn":"f","timeout":"30s"})",
      R"({"fn":"f","input":"a
b"})",
      R"({"fn":"f","input":"café"})",
      "{\"fn\":\"caf\xc3\xa9\"}",
      "{\"fn\":\"a\x7f\"}",
      "{\"fn\":\"a\tb\"}",
      R"( {"fn":"f"})",
      R"({"fn": "f"})",
      R"({"fn":"f"} )",
      R"({"fn":"f"}x)",
      R"({"fn":"f",})",
      R"({"fn":"f")",
      R"({})",
      R"([])",
      R"({"fn":"f","key":"k","queue":"q","input":"i","after":["a"],"retries":1,"priority":2})",
  };
  for (const std::string& line : lines) {
    TaskSpec fast, tree;
    const Status a = ParseTaskLine(line, &fast);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    const Status b = j.is_discarded() ? Status::Invalid("malformed JSON") : ParseTaskJson(j, &tree);
    ASSERT_EQ(a.ok(), b.ok()) << line << ": " << a.message() << " / " << b.message();
    EXPECT_EQ(a.message(), b.message()) << line;
    if (!a.ok()) continue;
    EXPECT_EQ(fast.key, tree.key) << line;
    EXPECT_EQ(CanonicalFields(fast), CanonicalFields(tree)) << line;
    EXPECT_EQ(fast.input, tree.input) << line;
  }
}

TEST(TaskSpec, GeneratedKeysDiffer) { EXPECT_NE(GenerateKey(), GenerateKey()); }

// Later keys sort later: the broker's key index then grows at its end.
TEST(TaskSpec, GeneratedKeysSortInTheOrderTheyWereMade) {
  std::string previous = GenerateKey();
  EXPECT_EQ(previous.size(), 34u);
  EXPECT_EQ(previous.rfind("t-", 0), 0u);
  for (int i = 0; i < 10000; ++i) {
    std::string key = GenerateKey();
    ASSERT_LT(previous, key) << "key " << i;
    previous = key;
  }
}

}  // namespace
}  // namespace leaseq

namespace leaseq {
namespace {

TEST(TaskSpec, LineReadsBackAsTheSameTaskAndLeavesDefaultsOut) {
  TaskSpec plain;
  plain.key = "k1";
  plain.cmd = {"echo", "a b"};
  EXPECT_EQ(TaskToLine(plain), R"({"cmd":["echo","a b"],"key":"k1"})");
  TaskSpec full;
  full.key = "k2";
  full.fn = "echo";
  full.input = "line\n\"quoted\"";
  full.after = {"k1", "k0"};
  full.retries = 2;
  full.priority = -3;
  full.queue = "gpu";
  for (const TaskSpec& t : {plain, full}) {
    TaskSpec back;
    ASSERT_TRUE(ParseTaskLine(TaskToLine(t), &back).ok()) << TaskToLine(t);
    EXPECT_EQ(back.key, t.key);
    EXPECT_EQ(CanonicalFields(back), CanonicalFields(t));
    EXPECT_EQ(TaskToLine(t).find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace leaseq
