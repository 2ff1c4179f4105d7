// Adaptive prefetch (README, "--prefetch"): a worker started without
// --prefetch holds many more short tasks than slots + slots, and hands the
// held ones back as soon as every slot runs a long one, so that another
// worker runs them; nothing is lost or run twice.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

TEST(AdaptivePrefetch, ShortTasksDeepenItAndLongOnesGoToTheIdleWorker) {
  Cluster cluster(kFastBroker);
  cluster.StartBroker();
  Process& w1 = cluster.StartWorker({"--name", "w1", "--slots", "2"});
  Process& w2 = cluster.StartWorker({"--name", "w2", "--slots", "2"});
  ASSERT_TRUE(WaitFor([&] { return QueryInt(cluster.db(), "SELECT count(*) FROM workers WHERE state = 'alive'") == 2; }, 10s));

  // A stream of instant tasks: each worker soon holds far more than its 2
  // slots and the 2 a fixed default prefetch would give.
  constexpr int kShort = 5000;
  std::string lines;
  for (int i = 0; i < kShort; ++i) lines += "{\"fn\": \"noop\"}\n";
  ASSERT_EQ(cluster.Submit({"--file", "-"}, lines).exit_code, 0);
  int64_t most_held = 0;
  ASSERT_TRUE(WaitFor([&] {
    most_held = std::max(most_held, QueryInt(cluster.db(),
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM attempts "
        "WHERE outcome = 'running' GROUP BY worker)"));
    return cluster.CountState("done") == kShort;
  }, 60s)) << "done " << cluster.CountState("done");
  EXPECT_GT(most_held, 2 + 2);
  EXPECT_NE(w1.Stderr().find("prefetch 0 -> 128"), std::string::npos) << w1.Stderr();

  // Four long tasks in one submission: w1 (first by name) is sent all four,
  // two of them prefetched. Once both its slots run long ones it hands those
  // two back and w2 runs them: two each, not four on w1.
  const std::string log = cluster.dir().File("starts.log");
  lines.clear();
  for (int i = 0; i < 4; ++i) {
    lines += "{\"key\": \"long" + std::to_string(i) + "\", \"cmd\": [\"sh\", \"-c\", "
             "\"echo $LEASEQ_TASK_KEY >> " + log + "; sleep 2\"]}\n";
  }
  ASSERT_EQ(cluster.Submit({"--file", "-"}, lines).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == kShort + 4; }, 30s))
      << "done " << cluster.CountState("done");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(DISTINCT worker) FROM attempts "
                                   "WHERE task_key LIKE 'long%' AND outcome = 'done'"), 2)
      << w1.Stderr() << w2.Stderr();
  EXPECT_NE(w1.Stderr().find("handing back 2 prefetched task(s)"), std::string::npos) << w1.Stderr();
  // Nothing lost, nothing run twice: one done attempt per task, each long
  // task started once, and no attempt lost (a held task goes back released).
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'done'"), kShort + 4);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome NOT IN ('done', 'released')"), 0);
  std::ifstream in(log);
  std::vector<std::string> started;
  for (std::string line; std::getline(in, line);) started.push_back(line);
  EXPECT_EQ(started.size(), 4u) << ::testing::PrintToString(started);
}

}  // namespace
}  // namespace leaseq::testing
