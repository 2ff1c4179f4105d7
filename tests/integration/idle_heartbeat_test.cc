// Idle workers heartbeat less (docs/protocol.md, "Heartbeats both ways"): a
// worker that holds nothing exchanges heartbeats idle-factor times less
// often, is declared lost after as many times the silence, and still loses
// no task; a restarted broker is noticed at once through the socket
// monitor, not at the next (rare) heartbeat.
#include <signal.h>

#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "common/config.h"
#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The messages the broker read in its life, from the totals it logs at exit.
int64_t MessagesRead(const std::string& broker_log) {
  std::smatch m;
  if (!std::regex_search(broker_log, m, std::regex(R"((\d+) messages)"))) return -1;
  return std::stoll(m[1]);
}

std::string WorkerState(Cluster& c, const std::string& name) {
  return Query(c.db(), "SELECT state FROM workers WHERE name = '" + name + "'");
}

// Until the worker logs its first heartbeat at the idle rate (the one that
// listed nothing): from then on both sides use the idle rate.
bool WaitIdle(Process& w) {
  return WaitFor([&] { return w.Stderr().find("idle: heartbeats every") != std::string::npos; }, 10s);
}

// (a) An idle worker's heartbeats come idle-factor times less often: over
// 3 s of idleness at heartbeat 200 ms the broker reads about 4 of them, not 15.
TEST(IdleHeartbeat, AnIdleWorkerHeartbeatsLessOften) {
  Cluster cluster(kFastBroker);
  cluster.StartBroker();
  Process& w = cluster.StartWorker({"--slots", "1", "--name", "w1"});
  ASSERT_TRUE(WaitFor([&] { return WorkerState(cluster, "w1") == "alive"; }, 10s)) << w.Stderr();
  // The idle period is the scenario, not a wait for a condition.
  std::this_thread::sleep_for(3s);
  cluster.StopBroker(SIGTERM);
  const int64_t read = MessagesRead(cluster.broker().Stderr());
  ASSERT_GE(read, 2) << cluster.broker().Stderr();  // the register and a heartbeat at least
  // Normal rate: 3000 / 200 = 15 heartbeats and the register. Idle rate
  // (every 200 x 5 ms once the first heartbeat said it holds nothing): 5 or so.
  static_assert(config::kIdleHeartbeatFactor >= 5);
  EXPECT_LE(read, 8) << cluster.broker().Stderr();
}

// (b) A worker SIGKILLed while idle is declared lost within the longer
// limit (200 x 5 x 3 = 3 s), and a task submitted meanwhile is not lost:
// another worker runs it.
TEST(IdleHeartbeat, AWorkerKilledWhileIdleIsLostInTimeAndLosesNoTask) {
  Cluster cluster(kFastBroker);
  cluster.StartBroker();
  Process& w1 = cluster.StartWorker({"--slots", "1", "--name", "w1"});
  ASSERT_TRUE(WaitFor([&] { return WorkerState(cluster, "w1") == "alive"; }, 10s)) << w1.Stderr();
  ASSERT_TRUE(WaitIdle(w1)) << w1.Stderr();
  w1.Signal(SIGKILL);
  ASSERT_TRUE(w1.WaitExit(5s));
  const auto killed = Clock::now();
  ASSERT_EQ(cluster.Submit({"--key", "k1", "--", "echo", "ran"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return WorkerState(cluster, "w1") == "lost"; }, 10s))
      << cluster.broker().Stderr();
  EXPECT_LT(Clock::now() - killed, 3s + 1s) << cluster.broker().Stderr();
  cluster.StartWorker({"--slots", "1", "--name", "w2"});
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == 1; }, 10s)) << cluster.broker().Stderr();
  EXPECT_EQ(cluster.Ctl({"result", "k1"}).out, "ran\n");
  EXPECT_EQ(Query(cluster.db(), "SELECT worker FROM attempts WHERE outcome = 'done'"), "w2");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'lost'"), 0);
}

// (b') A worker that stops answering while idle (SIGSTOP: its connection
// stays, as when its host is cut off) and is then leased a task: the lease
// lapses after heartbeat x liveness, as for any worker, the worker is lost
// as soon as it, and another worker runs the task. Thawed, the frozen
// worker comes back as itself and runs nothing of it.
TEST(IdleHeartbeat, ATaskLeasedToAFrozenIdleWorkerLapsesAndRunsElsewhere) {
  Cluster cluster(kFastBroker);
  cluster.StartBroker();
  Process& w1 = cluster.StartWorker({"--slots", "1", "--name", "w1", "--queue", "only-w1"});
  ASSERT_TRUE(WaitFor([&] { return WorkerState(cluster, "w1") == "alive"; }, 10s)) << w1.Stderr();
  ASSERT_TRUE(WaitIdle(w1)) << w1.Stderr();
  w1.Signal(SIGSTOP);
  const auto stopped = Clock::now();
  ASSERT_EQ(cluster.Submit({"--key", "k1", "--queue", "only-w1", "--", "echo", "ran"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return WorkerState(cluster, "w1") == "lost"; }, 10s))
      << cluster.broker().Stderr();
  // Leased at once, lost 600 ms after the lease: well before the idle limit.
  EXPECT_LT(Clock::now() - stopped, 2500ms) << cluster.broker().Stderr();
  cluster.StartWorker({"--slots", "1", "--name", "w2", "--queue", "only-w1"});
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == 1; }, 10s)) << cluster.broker().Stderr();
  EXPECT_EQ(Query(cluster.db(), "SELECT worker FROM attempts WHERE outcome = 'done'"), "w2");
  w1.Signal(SIGCONT);
  ASSERT_TRUE(WaitFor([&] { return WorkerState(cluster, "w1") == "alive"; }, 10s)) << w1.Stderr();
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'done'"), 1);
}

// (c) A restarted broker is noticed by an idle worker at once (its
// connection made anew), not at its next heartbeat 5 s away: a task
// submitted right after the restart is done within about a second.
TEST(IdleHeartbeat, AnIdleWorkerNoticesABrokerRestartAtOnce) {
  Cluster cluster;  // the default heartbeat: 1 s, 5 s when idle
  cluster.StartBroker();
  Process& w = cluster.StartWorker({"--slots", "1", "--name", "w1"});
  ASSERT_TRUE(WaitFor([&] { return WorkerState(cluster, "w1") == "alive"; }, 10s)) << w.Stderr();
  ASSERT_TRUE(WaitIdle(w)) << w.Stderr();
  cluster.StopBroker(SIGKILL);
  cluster.StartBroker();
  const auto restarted = Clock::now();
  ASSERT_EQ(cluster.Submit({"--key", "k1", "--", "echo", "ran"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == 1; }, 10s)) << w.Stderr();
  EXPECT_LT(Clock::now() - restarted, 1500ms) << w.Stderr();
  EXPECT_NE(w.Stderr().find("made anew: registering again"), std::string::npos) << w.Stderr();
}

}  // namespace
}  // namespace leaseq::testing
