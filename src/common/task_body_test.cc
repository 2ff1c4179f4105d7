// The `task` body written as text (task_body.h) against the json object the
// broker built before: the same bytes, whatever the strings hold.
#include "common/task_body.h"

#include <gtest/gtest.h>

#include <string>

#include "common/protocol.h"
#include "common/wire_batch.h"

namespace leaseq::wire {
namespace {

// The body as the broker built it with nlohmann::json.
nlohmann::json AsJson(const TaskBody& t) {
  nlohmann::json body = {{field::kAttempt, t.attempt},
                         {field::kKey, std::string(t.key)},
                         {field::kAttemptNo, t.attempt_no}};
  if (t.prefetched) body[field::kPrefetched] = true;
  if (t.timeout_ms > 0) body[field::kTimeoutMs] = t.timeout_ms;
  if (t.fn.empty()) {
    body[field::kCmd] = nlohmann::json::parse(t.cmd_json);
  } else {
    body[field::kFn] = std::string(t.fn);
  }
  return body;
}

std::string Text(const TaskBody& t) {
  std::string out;
  AppendTaskBody(t, &out);
  return out;
}

TEST(TaskBody, IsTheTextOfTheJsonObject) {
  TaskBody fn;
  fn.attempt = 7;
  fn.attempt_no = 1;
  fn.key = "t-1";
  fn.fn = "noop";
  EXPECT_EQ(Text(fn), R"({"attempt":7,"attempt_no":1,"fn":"noop","key":"t-1"})");
  EXPECT_EQ(Text(fn), DumpJson(AsJson(fn)));

  TaskBody cmd = fn;
  cmd.fn = "";
  cmd.cmd_json = R"(["sh","-c","echo \"hi\"\n"])";
  cmd.prefetched = true;
  cmd.timeout_ms = 30000;
  cmd.attempt = INT64_MAX;
  cmd.attempt_no = -1;
  EXPECT_EQ(Text(cmd), DumpJson(AsJson(cmd)));

  TaskBody no_timeout = fn;
  no_timeout.timeout_ms = -5;  // none
  EXPECT_EQ(Text(no_timeout), DumpJson(AsJson(no_timeout)));
}

TEST(TaskBody, StringsAreEscapedAsDumpJsonEscapesThem) {
  const std::string keys[] = {"plain",         "with \"quotes\"", "back\\slash",   "tab\there",
                              "nl\ncr\r",      "ctl\x01\x1f",     "del\x7f",       "caf\xc3\xa9",
                              "emoji \xf0\x9f\x98\x80", "bad \xff utf8", "cut \xc3", ""};
  for (const std::string& key : keys) {
    TaskBody t;
    t.attempt = 1;
    t.attempt_no = 2;
    t.key = key;
    t.fn = key.empty() ? std::string_view("f") : std::string_view(key);
    EXPECT_EQ(Text(t), DumpJson(AsJson(t))) << key;
  }
}

TEST(TaskBody, ABatchOfTextBodiesIsTheSameFrameAsOfJsonBodies) {
  std::vector<Message> text, json;
  for (int i = 0; i < 3; ++i) {
    TaskBody t;
    t.attempt = 10 + i;
    t.attempt_no = 1;
    const std::string key = "k" + std::to_string(i);
    t.key = key;
    t.fn = "noop";
    Message m;
    m.command = Command::kTask;
    AppendTaskBody(t, &m.body_text);
    m.blobs = {i == 1 ? "stdin" : ""};
    text.push_back(m);
    json.push_back(Make(Command::kTask, AsJson(t), {m.blobs[0]}));
  }
  std::vector<PackedFrame> a = Pack(text), b = Pack(json);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(Encode(a[0].message), Encode(b[0].message));
  // One item alone is the single form, its text as it was.
  std::vector<PackedFrame> one = Pack({text[0]});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].message.command, Command::kTask);
  EXPECT_EQ(Encode(one[0].message), Encode(json[0]));
  EXPECT_EQ(AsReceived(one[0].message).body, json[0].body);
  // Mixed: the text bodies are parsed into the json array.
  std::vector<PackedFrame> mixed = Pack({text[0], json[1], text[2]});
  ASSERT_EQ(mixed.size(), 1u);
  EXPECT_EQ(Encode(mixed[0].message), Encode(b[0].message));
}

}  // namespace
}  // namespace leaseq::wire
