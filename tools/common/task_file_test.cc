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
  ASSERT_EQ(f.tasks.size(), 2u);
  EXPECT_EQ(f.lines, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(f.tasks[1].fn, "noop");
  EXPECT_EQ(f.Where(1), "tasks.jsonl:4");
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
  EXPECT_TRUE(f.tasks.empty());
}

TEST(TaskFile, MissingKeysAreGeneratedAndGivenOnesKept) {
  std::vector<TaskSpec> tasks(3);
  tasks[1].key = "mine";
  AssignMissingKeys(&tasks);
  EXPECT_EQ(tasks[1].key, "mine");
  EXPECT_EQ(tasks[0].key.rfind("t-", 0), 0u);
  EXPECT_NE(tasks[0].key, tasks[2].key);
}

TEST(TaskFile, UnreadablePathIsAnError) {
  TaskFile f;
  EXPECT_FALSE(ReadTaskFile("/nonexistent/tasks.jsonl", &f).ok());
}

}  // namespace
}  // namespace leaseq::tools
