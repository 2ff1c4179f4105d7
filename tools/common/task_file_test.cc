#include "tools/common/task_file.h"

#include <gtest/gtest.h>

#include <sstream>

namespace leaseq::tools {
namespace {

Status Parse(const std::string& text, TaskFile* f) {
  std::istringstream in(text);
  return ParseTaskStream(in, "tasks.jsonl", f);
}

TEST(TaskFile, SkipsBlankLinesAndKeepsLineNumbers) {
  TaskFile f;
  ASSERT_TRUE(Parse("\n{\"cmd\": [\"a\"]}\r\n  \n{\"fn\": \"noop\", \"key\": \"k\"}\n", &f).ok());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f.lines(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(f.Keys()[1], "k");
  EXPECT_EQ(f.Where(1), "tasks.jsonl:4");
}

TEST(TaskFile, HoldsTheTasksAsTheWireLinesWithEveryKeyFilledIn) {
  TaskFile f;
  ASSERT_TRUE(Parse("{\"cmd\": [\"a\"], \"input\": \"xy\"}\n{\"fn\": \"noop\", \"key\": \"k\"}\n", &f).ok());
  std::vector<std::string> keys = f.Keys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].rfind("t-", 0), 0u);
  EXPECT_EQ(f.keys_text(), keys[0] + "\nk\n");
  EXPECT_EQ(f.input_bytes(), 2);
  std::istringstream wire(f.wire());
  std::string line;
  for (size_t i = 0; std::getline(wire, line); ++i) {
    TaskSpec t;
    ASSERT_TRUE(ParseTaskLine(line, &t).ok()) << line;
    EXPECT_EQ(t.key, keys[i]);
  }
}

TEST(TaskFile, BadLineIsNamedWithItsNumber) {
  TaskFile f;
  Status s = Parse("{\"cmd\": [\"a\"]}\n\n{\"cmdd\": [\"b\"]}\n", &f);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("tasks.jsonl:3: unknown field 'cmdd'", 0), 0u) << s.message();
  EXPECT_EQ(Parse("{\"cmd\": [\"a\"]\n", &f).message(), "tasks.jsonl:1: malformed JSON");
  EXPECT_EQ(Parse("{\"input\": \"x\"}\n", &f).message(), "tasks.jsonl:1: missing field 'cmd'");
}

TEST(TaskFile, SameKeyWithOtherFieldsIsRefused) {
  TaskFile f;
  EXPECT_TRUE(Parse("{\"key\": \"k\", \"cmd\": [\"a\"]}\n{\"key\": \"k\", \"cmd\": [\"a\"]}\n", &f)
                  .ok());
  EXPECT_EQ(Parse("{\"key\": \"k\", \"cmd\": [\"a\"]}\n{\"key\": \"k\", \"cmd\": [\"b\"]}\n", &f)
                .message(),
            "tasks.jsonl:2: key 'k' is already used by line 1 with other fields");
}

TEST(TaskFile, EmptyFileHasNoTasks) {
  TaskFile f;
  ASSERT_TRUE(Parse("", &f).ok());
  EXPECT_TRUE(f.empty());
}

TEST(TaskFile, MissingKeysAreGeneratedAndGivenOnesKept) {
  TaskFile f;
  std::vector<TaskSpec> tasks(3);
  for (auto& t : tasks) t.cmd = {"true"};
  tasks[1].key = "mine";
  for (auto& t : tasks) ASSERT_TRUE(f.Add(t, 0).ok());
  std::vector<std::string> keys = f.Keys();
  EXPECT_EQ(keys[1], "mine");
  EXPECT_EQ(keys[0].rfind("t-", 0), 0u);
  EXPECT_NE(keys[0], keys[2]);
  EXPECT_EQ(f.Where(0), "");  // tasks given by flags have no line
}

TEST(TaskFile, UnreadablePathIsAnError) {
  TaskFile f;
  EXPECT_FALSE(ReadTaskFile("/nonexistent/tasks.jsonl", &f).ok());
}

}  // namespace
}  // namespace leaseq::tools
