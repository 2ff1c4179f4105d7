// A poison task (it kills its own worker) ends failed with suspicious =
// allowed-failures + 1, while the other tasks finish.
#include <gtest/gtest.h>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

TEST(Poison, TaskThatKillsItsWorkerIsFailedAfterAllowedFailuresOthersFinish) {
  Cluster cluster({"--heartbeat-ms", "200", "--liveness", "3", "--allowed-failures", "3"});
  cluster.StartBroker();
  // No prefetch: a poison task prefetched behind a task that ends can kill
  // the worker before that task's result has left the process, and the
  // death is then blamed on the task that ended (docs/semantics.md,
  // "Blame"); this test is about the poison task's own count.
  cluster.StartWorker({"--nanny", "--name", "n1", "--prefetch", "0"});
  cluster.StartWorker({"--nanny", "--name", "n2", "--prefetch", "0"});
  ASSERT_EQ(cluster.Submit({"--key", "poison", "--priority", "10", "--", "sh", "-c", "kill -9 $PPID"}).exit_code, 0);
  std::string lines;
  for (int i = 0; i < 6; ++i) lines += "{\"key\": \"ok" + std::to_string(i) + "\", \"cmd\": [\"echo\", \"" + std::to_string(i) + "\"]}\n";
  ASSERT_EQ(cluster.Submit({"--file", "-"}, lines).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == 6 && cluster.CountState("failed") == 1; }, 60s))
      << "done " << cluster.CountState("done") << " failed " << cluster.CountState("failed");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = 'poison'"), 4);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'poison' AND outcome = 'lost'"), 4);
  EXPECT_NE(Query(cluster.db(), "SELECT error FROM tasks WHERE key = 'poison'").find("allowed-failures 3"), std::string::npos);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT max(suspicious) FROM tasks WHERE key <> 'poison'"), 0);
}

}  // namespace
}  // namespace leaseq::testing
