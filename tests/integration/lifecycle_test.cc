// A task's life as a user sees it: stdin, environment, result, failure with
// retries, dependencies, cancel and retry; and a frozen worker.
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster.StartBroker();
    // A fixed prefetch of 2 (the default once was --slots): the thaw test
    // counts on two held tasks (prefetch_test.cc has the adaptive default).
    cluster.StartWorker({"--slots", "2", "--prefetch", "2", "--name", "w1"});
  }
  bool WaitState(const std::string& key, const std::string& state, std::chrono::milliseconds t = 20s) {
    return WaitFor([&] { return Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'") == state; }, t);
  }
  Cluster cluster{kFastBroker};
};

TEST_F(Lifecycle, StdinIsInputThenDependencyResultsAndEnvIsSet) {
  ASSERT_EQ(cluster.Submit({"--key", "a", "--", "echo", "A"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "b", "--", "printf", "B"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "c", "--after", "b", "--after", "a", "--input", "in:", "--", "sh",
                            "-c", "cat; echo \"$LEASEQ_TASK_KEY $LEASEQ_ATTEMPT\""})
                .exit_code,
            0);
  auto w = cluster.Ctl({"wait", "c"});
  EXPECT_EQ(w.exit_code, 0) << w.err;
  auto r = cluster.Ctl({"result", "c"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "in:BA\nc 1\n");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'c' AND outcome = 'done'"), 1);
}

TEST_F(Lifecycle, FailedCommandIsRetriedThenFailedWithStatusAndStderr) {
  ASSERT_EQ(cluster.Submit({"--key", "f", "--retries", "2", "--", "sh", "-c", "echo oops >&2; exit 3"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "g", "--after", "f", "--", "true"}).exit_code, 0);
  ASSERT_TRUE(WaitState("f", "failed"));
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'f' AND outcome = 'error'"), 3);
  std::string error = Query(cluster.db(), "SELECT error FROM tasks WHERE key = 'f'");
  EXPECT_NE(error.find("exit status 3"), std::string::npos) << error;
  EXPECT_NE(error.find("oops"), std::string::npos) << error;
  ASSERT_TRUE(WaitState("g", "failed"));
  EXPECT_NE(Query(cluster.db(), "SELECT error FROM tasks WHERE key = 'g'").find("'f'"), std::string::npos);
  auto r = cluster.Ctl({"result", "f"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(cluster.Submit({"--wait", "--key", "h", "--", "false"}).exit_code, 0);
}

TEST_F(Lifecycle, CancelKillsARunningCommandAndRetryRunsItAgain) {
  ASSERT_EQ(cluster.Submit({"--key", "slow", "--", "sleep", "30"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "next", "--after", "slow", "--", "echo", "ok"}).exit_code, 0);
  ASSERT_TRUE(WaitState("slow", "running"));
  auto c = cluster.Ctl({"cancel", "slow"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  ASSERT_TRUE(WaitState("slow", "cancelled"));
  ASSERT_TRUE(WaitState("next", "failed"));
  // The worker is free again: a new task runs.
  ASSERT_EQ(cluster.Submit({"--key", "quick", "--wait", "--", "true"}).exit_code, 0);
  auto r = cluster.Ctl({"retry", "next"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitState("slow", "running"));
  EXPECT_EQ(Query(cluster.db(), "SELECT state FROM tasks WHERE key = 'next'"), "waiting");
}

TEST_F(Lifecycle, FrozenWorkerIsLostItsTaskFinishesElsewhereAndItsLateResultChangesNothing) {
  ASSERT_EQ(cluster.Submit({"--key", "t", "--", "sh", "-c", "sleep 1; echo attempt $LEASEQ_ATTEMPT"}).exit_code, 0);
  ASSERT_TRUE(WaitState("t", "running"));
  Process& w1 = *cluster.workers()[0];
  w1.Signal(SIGSTOP);
  cluster.StartWorker({"--name", "w2"});
  ASSERT_TRUE(WaitFor([&] { return Query(cluster.db(), "SELECT state FROM workers WHERE name = 'w1'") == "lost"; }, 5s));
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = 't'"), 1);
  ASSERT_TRUE(WaitState("t", "done"));
  EXPECT_EQ(cluster.Ctl({"result", "t"}).out, "attempt 2\n");
  w1.Signal(SIGCONT);
  // w1 comes back (registers again) and delivers its stale result.
  ASSERT_TRUE(WaitFor([&] { return Query(cluster.db(), "SELECT state FROM workers WHERE name = 'w1'") == "alive"; }, 10s));
  ASSERT_EQ(cluster.Submit({"--key", "after-thaw", "--wait", "--", "true"}).exit_code, 0);
  EXPECT_EQ(cluster.Ctl({"result", "t"}).out, "attempt 2\n");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 't' AND outcome = 'done'"), 1);
  EXPECT_EQ(Query(cluster.db(), "SELECT worker FROM attempts WHERE task_key = 't' AND outcome = 'done'"), "w2");
}

TEST_F(Lifecycle, ThawedWorkerDoesNotStartThePrefetchedTasksItWasLostWith) {
  // w1: 2 slots and 2 prefetched. Each start appends a line.
  const std::string log = cluster.dir().File("starts.log");
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(cluster.Submit({"--key", "p" + std::to_string(i), "--", "sh", "-c",
                              "echo \"$LEASEQ_TASK_KEY $LEASEQ_ATTEMPT\" >> " + log + "; sleep 1"})
                  .exit_code,
              0);
  }
  ASSERT_TRUE(WaitFor([&] { return QueryInt(cluster.db(), "SELECT count(*) FROM tasks WHERE state = 'running'") == 4; }, 20s));
  Process& w1 = *cluster.workers()[0];
  w1.Signal(SIGSTOP);
  cluster.StartWorker({"--slots", "4", "--name", "w2"});
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == 4; }, 30s));
  w1.Signal(SIGCONT);
  ASSERT_TRUE(WaitFor([&] { return w1.Stderr().find("frozen for") != std::string::npos &&
                                   Query(cluster.db(), "SELECT state FROM workers WHERE name = 'w1'") == "alive"; },
                      10s))
      << w1.Stderr();
  // Its two running commands ran on while it was frozen; its two prefetched
  // tasks never started on it (they ran on w2 only).
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'lost'"), 2);
  // At least its two prefetched ones are released. A slow run (ASan) can
  // release one more: w2 starts with the adaptive prefetch at 0 and hands
  // back at once a task it cannot hold yet; a release blames nothing and
  // runs nothing.
  EXPECT_GE(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'released'"), 2);
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  EXPECT_EQ(lines.size(), 6u) << ::testing::PrintToString(lines);
}

// A worker killed with SIGKILL is "alive" until heartbeat x liveness of
// silence. Tasks leased to it meanwhile cannot be sent (its connection is
// gone) and are released; they must then go to the live worker, not back to
// the dead one on every pass (workers are visited by name: a-dead first).
TEST(DeadWorker, QueuedTasksGoToALiveWorkerBeforeTheDeadOneIsDeclaredLost) {
  Cluster cluster({"--heartbeat-ms", "1000", "--liveness", "20"});  // lost after 20 s
  cluster.StartBroker();
  Process& dead = cluster.StartWorker({"--name", "a-dead", "--slots", "1"});
  cluster.StartWorker({"--name", "b-live", "--slots", "1"});
  ASSERT_TRUE(WaitFor([&] { return QueryInt(cluster.db(), "SELECT count(*) FROM workers WHERE state = 'alive'") == 2; }, 10s));
  dead.Signal(SIGKILL);
  ASSERT_TRUE(dead.WaitExit(5s));
  std::string lines;
  for (int i = 0; i < 4; ++i) lines += "{\"key\": \"d" + std::to_string(i) + "\", \"cmd\": [\"true\"]}\n";
  ASSERT_EQ(cluster.Submit({"--file", "-"}, lines).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return cluster.CountState("done") == 4; }, 8s))
      << "done " << cluster.CountState("done") << "; a-dead is "
      << Query(cluster.db(), "SELECT state FROM workers WHERE name = 'a-dead'");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'done' AND worker = 'b-live'"), 4);
}

}  // namespace
}  // namespace leaseq::testing
