// The broker killed (or stopped) mid-run and started again on the same file:
// workers come back by themselves, running tasks keep running and their
// results are accepted, every task is done exactly once, nothing is lost.
#include <signal.h>

#include <gtest/gtest.h>

#include <thread>

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

// A worker told to stop while the broker is down waits for it (within its
// drain timeout) to hand back what it held: no blame, and its goodbye lands.
TEST(BrokerRestartDrain, WorkerStoppedWhileBrokerDownHandsBackWithoutBlame) {
  Cluster cluster(kFastBroker);
  cluster.StartBroker();
  Process& w1 = cluster.StartWorker({"--slots", "1", "--prefetch", "2", "--name", "w1",
                                     "--drain-timeout-ms", "15000"});
  std::string lines;
  const int n = 6;
  for (int i = 0; i < n; ++i) {
    lines += "{\"key\": \"d" + std::to_string(i) + "\", \"cmd\": [\"sh\", \"-c\", \"sleep 0.5; echo $0\", \"" +
             std::to_string(i) + "\"]}\n";
  }
  ASSERT_EQ(cluster.Submit({"--file", "-"}, lines).exit_code, 0);
  // One running and two prefetched on w1.
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("running") == 3; }, 30s));
  cluster.StopBroker(SIGKILL);
  w1.Signal(SIGTERM);
  ASSERT_TRUE(WaitFor([&] { return w1.Stderr().find("draining") != std::string::npos; }, 10s));
  // The broker's downtime is the scenario, not a wait for a condition: longer
  // than the 2 s a drained worker used to wait before leaving.
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(w1.running()) << w1.Stderr();
  cluster.StartBroker();
  ASSERT_TRUE(w1.WaitExit(20s)) << w1.Stderr();
  EXPECT_EQ(w1.exit_code(), 0);
  EXPECT_NE(w1.Stderr().find("goodbye acknowledged"), std::string::npos) << w1.Stderr();
  cluster.StartWorker({"--slots", "2", "--name", "w2"});
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == n; }, 60s)) << cluster.broker().Stderr();
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'lost'"), 0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'released'"), 2)
      << "the two prefetched tasks";
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT sum(suspicious) FROM tasks"), 0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM workers WHERE name = 'w1' AND state = 'alive'"), 0);
}

INSTANTIATE_TEST_SUITE_P(Signals, BrokerRestart, ::testing::Values(SIGKILL, SIGTERM),
                         [](const auto& info) { return info.param == SIGKILL ? "SIGKILL" : "SIGTERM"; });

}  // namespace
}  // namespace leaseq::testing
