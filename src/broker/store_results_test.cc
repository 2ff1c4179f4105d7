// Tests of Store::CompleteAll (store_results.cc): a frame of results is
// stored as each result would be alone.

#include <gtest/gtest.h>

#include "broker/store.h"
#include "broker/store_test_util.h"

namespace leaseq::testing {
namespace {

AttemptResult Result(const Assignment& a, int exit_code, const std::string& out) {
  AttemptResult r;
  r.attempt_id = a.attempt_id;
  r.exit_code = exit_code;
  r.stdout_bytes = out;
  return r;
}

class CompleteAllTest : public StoreTest {
 protected:
  void CompleteAll(const std::string& worker, const std::vector<AttemptResult>& results) {
    ASSERT_OK(store_->Begin());
    ASSERT_OK(store_->CompleteAll(worker, results, Now()));
    ASSERT_OK(store_->Commit());
  }
  std::string ResultOf(const std::string& key) {
    return Reader()->execAndGet("SELECT result FROM tasks WHERE key = '" + key + "'").getString();
  }
};

TEST_F(CompleteAllTest, EachResultOfAFrameEndsAsItWouldAlone) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c"), Task("d"), Task("e", {"c"})}));
  std::vector<Assignment> held = Claim("w1", 4);
  ASSERT_EQ(held.size(), 4u);
  CompleteAll("w1", {Result(held[0], 0, "out-a"), Result(held[1], 0, ""),
                     Result(held[2], 0, "out-c"),    // e waits for c
                     Result(held[3], 1, ""),         // a failure (no retries left)
                     Result(held[0], 0, "again")});  // a second time: stale
  EXPECT_EQ(State("a"), "done");
  EXPECT_EQ(ResultOf("a"), "out-a");
  EXPECT_EQ(State("b"), "done");
  EXPECT_EQ(ResultOf("b"), "");
  EXPECT_EQ(State("c"), "done");
  EXPECT_EQ(State("e"), "queued");  // released by c
  EXPECT_EQ(State("d"), "failed");
  EXPECT_EQ(Outcomes("a"), std::vector<std::string>{"done"});
  EXPECT_EQ(Outcomes("d"), std::vector<std::string>{"error"});
  EXPECT_EQ(QueryInt("SELECT count(*) FROM attempts WHERE outcome = 'done' AND exit_code = 0 "
                     "AND ended_at IS NOT NULL AND lease_expires_at IS NULL"),
            3);
  EXPECT_EQ(CounterMismatches(path_), "");
  EXPECT_EQ(ClaimOne("w1", "e").key, "e");
}

TEST_F(CompleteAllTest, ResultsForAnotherWorkersOrReclaimedAttemptsChangeNothing) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c")}));
  std::vector<Assignment> held = Claim("w1", 3);
  ASSERT_EQ(held.size(), 3u);
  Lose(held[2].attempt_id);
  CompleteAll("w2", {Result(held[0], 0, "x"), Result(held[1], 0, "y")});
  EXPECT_EQ(State("a"), "running");
  EXPECT_EQ(State("b"), "running");
  CompleteAll("w1", {Result(held[0], 0, "x"), Result(held[1], 0, "y"), Result(held[2], 0, "z")});
  EXPECT_EQ(State("a"), "done");
  EXPECT_EQ(State("b"), "done");
  EXPECT_EQ(State("c"), "queued");  // its attempt was lost before the result came
  EXPECT_EQ(CounterMismatches(path_), "");
}

// Past kRowsPerStatement (64) the statements take the rows in chunks: a
// lease batch and a frame of results of 150.
TEST_F(CompleteAllTest, BatchesLargerThanOneStatementAreLeasedAndStoredWhole) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 150; ++i) tasks.push_back(Task("k" + std::to_string(i)));
  ASSERT_OK(Submit(tasks));
  std::vector<Assignment> held = Claim("w1", 150);
  ASSERT_EQ(held.size(), 150u);
  std::vector<AttemptResult> results;
  for (const Assignment& a : held) {
    // Each attempt id is the row of that task's attempt.
    EXPECT_EQ(
        Reader()
            ->execAndGet("SELECT task_key FROM attempts WHERE id = " + std::to_string(a.attempt_id))
            .getString(),
        a.key);
    results.push_back(Result(a, 0, "out-" + a.key));
  }
  CompleteAll("w1", results);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM tasks WHERE state = 'done' AND CAST(result AS TEXT) = "
                     "'out-' || key"),
            150);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM attempts WHERE outcome = 'done'"), 150);
  EXPECT_EQ(CounterMismatches(path_), "");
}

}  // namespace
}  // namespace leaseq::testing
