// Tests of the read-only queries (store_queries.cc): counts, states, show, fetch, workers.

#include "broker/store.h"

#include <gtest/gtest.h>

#include <map>

#include "broker/store_test_util.h"

namespace leaseq::testing {
namespace {

TEST_F(StoreTest, CountsMatchTheTasksStates) {
  // Claims go in submission order: c, then a (twice), then d.
  ASSERT_OK(Submit({Task("c"), Task("a"), Task("d"), Task("e"), Task("f"), Task("b", {"a"})}));
  Run("c");
  Lose(ClaimOne("w1", "a").attempt_id);
  EXPECT_TRUE(Complete("w1", ClaimOne("w1", "a").attempt_id, 1));
  ClaimOne("w2", "d");
  ASSERT_OK(Cancel({"e"}));
  nlohmann::json counts, workers;
  ASSERT_OK(store_->Counts(&counts, &workers));
  auto db = Reader();
  std::map<std::string, int64_t> actual;
  SQLite::Statement q(*db, "SELECT state, count(*) FROM tasks GROUP BY state");
  while (q.executeStep()) actual[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
  for (const char* state : {"waiting", "queued", "running", "done", "failed", "cancelled"}) {
    EXPECT_EQ(counts.value(state, -1), actual[state]) << state;
  }
  EXPECT_EQ(counts["failed"], 2);
  EXPECT_EQ(counts["done"], 1);
  EXPECT_EQ(counts["running"], 1);
  EXPECT_EQ(counts["queued"], 1);
  EXPECT_EQ(counts["cancelled"], 1);
  EXPECT_EQ(counts["waiting"], 0);
  EXPECT_EQ(workers["alive"], 2);
}

TEST_F(StoreTest, StatesCountsKnownKeysAndListsMissingOnes) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c", {"a"})}));
  Run("a");
  nlohmann::json counts;
  std::vector<std::string> missing;
  ASSERT_OK(store_->States({"a", "b", "c", "x"}, &counts, &missing));
  EXPECT_EQ(counts, nlohmann::json({{"done", 1}, {"queued", 2}}));
  EXPECT_EQ(missing, (std::vector<std::string>{"x"}));
}

TEST_F(StoreTest, FetchAndShowOfUnknownKeyAreNotFound) {
  std::string state, result;
  Status s = store_->Fetch("nope", &state, &result);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "'nope'"));
  nlohmann::json j;
  EXPECT_EQ(store_->Show("nope", &j).code(), Status::Code::kNotFound);
}

TEST_F(StoreTest, FetchOfAnUnfinishedTaskHasNoResult) {
  ASSERT_OK(Submit({Task("a")}));
  std::string state, result = "stale";
  ASSERT_OK(store_->Fetch("a", &state, &result));
  EXPECT_EQ(state, "queued");
  EXPECT_EQ(result, "");
}

TEST_F(StoreTest, WorkersListsEachWithItsRunningCount) {
  ASSERT_OK(Submit({Task("a"), Task("b")}));
  Claim("w2", 2);
  nlohmann::json out;
  ASSERT_OK(store_->Workers(&out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["name"], "w1");
  EXPECT_EQ(out[0]["running"], 0);
  EXPECT_EQ(out[1]["name"], "w2");
  EXPECT_EQ(out[1]["running"], 2);
  EXPECT_EQ(out[1]["state"], "alive");
}

}  // namespace
}  // namespace leaseq::testing
