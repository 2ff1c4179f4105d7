// The broker killed (or stopped) mid-run and started again on the same file:
// workers come back by themselves, running tasks keep running and their
// results are accepted, every task is done exactly once, nothing is lost.
#include <signal.h>

#include <gtest/gtest.h>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

class BrokerRestart : public ::testing::TestWithParam<int> {};

TEST_P(BrokerRestart, NothingLostNothingTwice) {
  Cluster cluster(kFastBroker);
  cluster.StartBroker();
  cluster.StartWorker({"--slots", "2", "--name", "w1"});
  cluster.StartWorker({"--slots", "2", "--name", "w2"});
  std::string lines;
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    lines += "{\"key\": \"t" + std::to_string(i) + "\", \"cmd\": [\"sh\", \"-c\", \"sleep 0.15; echo $0\", \"" +
             std::to_string(i) + "\"]}\n";
  }
  auto submitted = cluster.Submit({"--file", "-"}, lines);
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") >= 6; }, 30s));
  cluster.StopBroker(GetParam());
  const int64_t running_at_stop = cluster.CountState("running");
  cluster.StartBroker();
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == n; }, 60s))
      << "done " << cluster.CountState("done") << "\n" << cluster.broker().Stderr();
  for (int i = 0; i < n; ++i) {
    auto r = cluster.Ctl({"result", "t" + std::to_string(i)});
    EXPECT_EQ(r.out, std::to_string(i) + "\n");
  }
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'done'"), n);
  // The leases found at restart were honoured: no task was blamed.
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'lost'"), 0)
      << "running at stop: " << running_at_stop;
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT sum(suspicious) FROM tasks"), 0);
  EXPECT_EQ(Query(cluster.db(), "PRAGMA integrity_check"), "ok");
}

INSTANTIATE_TEST_SUITE_P(Signals, BrokerRestart, ::testing::Values(SIGKILL, SIGTERM),
                         [](const auto& info) { return info.param == SIGKILL ? "SIGKILL" : "SIGTERM"; });

}  // namespace
}  // namespace leaseq::testing
