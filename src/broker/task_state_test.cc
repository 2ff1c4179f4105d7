#include "broker/task_state.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "leaseq_schema_sql.h"

namespace leaseq {
namespace {

// The words a CHECK constraint of sql/schema.sql allows for column, in order:
// "CHECK (column = 'a' OR column = 'b' ...)" (blame also allows NULL).
std::vector<std::string> CheckedWords(const std::string& column) {
  const std::string schema = kSql_schema;
  std::smatch check;
  const std::regex check_re("CHECK \\(((?:" + column + " IS NULL OR )?" + column + " = '[^)]*)\\)");
  if (!std::regex_search(schema, check, check_re)) return {};
  const std::string list = check[1].str();
  std::vector<std::string> words;
  const std::regex word_re(column + " = '([a-z]+)'");
  const std::sregex_iterator end;
  for (auto it = std::sregex_iterator(list.begin(), list.end(), word_re); it != end; ++it) {
    words.push_back((*it)[1].str());
  }
  return words;
}

template <typename E, size_t N>
std::vector<std::string> Texts(const std::array<E, N>& all) {
  std::vector<std::string> out;
  for (E e : all) out.push_back(ToText(e));
  return out;
}

// The text is the file's format: sqlite3 users and sql/views.sql read it.
TEST(TaskState, TheTextIsTheDatabases) {
  EXPECT_EQ(Texts(kTaskStates), (std::vector<std::string>{"waiting", "queued", "running", "done",
                                                          "failed", "cancelled"}));
  EXPECT_EQ(Texts(kAttemptOutcomes),
            (std::vector<std::string>{"running", "done", "error", "lost", "released"}));
  EXPECT_EQ(Texts(kWorkerStates), (std::vector<std::string>{"alive", "lost", "gone"}));
  EXPECT_EQ(Texts(kBlames), (std::vector<std::string>{"suspected", "death", "withdrawn"}));
}

// A value added to an enum (or a word to the schema) without the other
// fails here, not at the first write of a row.
TEST(TaskState, TheSchemaAllowsExactlyTheseWords) {
  EXPECT_EQ(CheckedWords("state").size(), 6u) << "the tasks table's CHECK comes first";
  EXPECT_EQ(CheckedWords("state"), Texts(kTaskStates));
  EXPECT_EQ(CheckedWords("outcome"), Texts(kAttemptOutcomes));
  EXPECT_EQ(CheckedWords("blame"), Texts(kBlames));
  // workers.state: the second "state" CHECK of the file.
  const std::string schema = kSql_schema;
  EXPECT_NE(schema.find("CHECK (state = 'alive' OR state = 'lost' OR state = 'gone')"),
            std::string::npos);
}

TEST(TaskState, EveryTextMapsBack) {
  for (TaskState s : kTaskStates) EXPECT_EQ(TaskStateFromText(ToText(s)), s) << ToText(s);
  for (AttemptOutcome o : kAttemptOutcomes) {
    EXPECT_EQ(AttemptOutcomeFromText(ToText(o)), o) << ToText(o);
  }
  for (WorkerState s : kWorkerStates) EXPECT_EQ(WorkerStateFromText(ToText(s)), s) << ToText(s);
  for (Blame b : kBlames) EXPECT_EQ(BlameFromText(ToText(b)), b) << ToText(b);
  static_assert(TaskStateFromText("queued") == TaskState::kQueued);
  static_assert(BlameFromText("withdrawn") == Blame::kNone);
}

TEST(TaskState, OtherTextIsNoState) {
  for (const char* text : {"", "Queued", "queued ", "error", "alive", "pending"}) {
    EXPECT_FALSE(TaskStateFromText(text).has_value()) << text;
  }
  EXPECT_FALSE(AttemptOutcomeFromText("failed").has_value());
  EXPECT_FALSE(WorkerStateFromText("dead").has_value());
  EXPECT_FALSE(BlameFromText("").has_value());
}

TEST(TaskState, FinishedStates) {
  std::vector<std::string> finished, failed;
  for (TaskState s : kTaskStates) {
    if (IsFinished(s)) finished.push_back(ToText(s));
    if (IsFailedOrCancelled(s)) failed.push_back(ToText(s));
  }
  EXPECT_EQ(finished, (std::vector<std::string>{"done", "failed", "cancelled"}));
  EXPECT_EQ(failed, (std::vector<std::string>{"failed", "cancelled"}));
}

}  // namespace
}  // namespace leaseq
