// In-process functions (README, "In-process functions"), with the real
// binaries: leaseq-worker's built-ins (noop, echo, sleep), stdin made of the
// input and the dependencies' results, heartbeats while a function runs,
// cancel and drain of a call that cannot be killed, and a custom worker
// built on include/leaseq/worker.h (examples/custom_worker), also under
// --nanny; a function only the custom worker has never goes to another.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <gtest/gtest.h>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

class Functions : public ::testing::Test {
 protected:
  void SetUp() override { cluster.StartBroker(); }
  std::string State(const std::string& key) {
    return Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'");
  }
  bool WaitState(const std::string& key, const std::string& state, std::chrono::milliseconds t = 20s) {
    return WaitFor([&] { return State(key) == state; }, t);
  }
  std::string WorkerState(const std::string& name) {
    return Query(cluster.db(), "SELECT state FROM workers WHERE name = '" + name + "'");
  }
  bool WaitAlive(const std::string& name) {
    return WaitFor([&] { return WorkerState(name) == "alive"; }, 10s);
  }
  // The example worker (examples/custom_worker), built beside the others.
  std::unique_ptr<Process> StartCustom(const std::vector<std::string>& args) {
    const std::string bin = BinDir() + "/leaseq-example-worker";
    EXPECT_TRUE(std::filesystem::exists(bin)) << bin << " is missing: build leaseq-example-worker";
    std::vector<std::string> all = {"--broker", cluster.endpoint()};
    all.insert(all.end(), args.begin(), args.end());
    return std::make_unique<Process>(bin, all, cluster.dir().File("custom" + std::to_string(customs_++)));
  }
  Cluster cluster{kFastBroker};
  int customs_ = 0;
};

TEST_F(Functions, BuiltinsEchoNoopAndSleepAreAnnouncedAndRun) {
  cluster.StartWorker({"--name", "w1"});
  ASSERT_TRUE(WaitAlive("w1"));
  EXPECT_EQ(Query(cluster.db(), "SELECT fns FROM workers WHERE name = 'w1'"),
            R"(["echo","noop","sleep"])");
  auto s = cluster.Submit({"--key", "e", "--fn", "echo", "--input", "hi"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, "e\n");
  ASSERT_EQ(cluster.Submit({"--key", "n", "--fn", "noop", "--input", "ignored"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "s", "--fn", "sleep", "--input", "300"}).exit_code, 0);
  auto w = cluster.Ctl({"wait", "e", "n", "s"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_EQ(cluster.Ctl({"result", "e"}).out, "hi");
  auto n = cluster.Ctl({"result", "n"});
  EXPECT_EQ(n.exit_code, 0);
  EXPECT_EQ(n.out, "");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome = 'done' AND exit_code = 0"), 3);
}

TEST_F(Functions, AFailingFunctionIsRetriedThenFailedWithItsMessage) {
  cluster.StartWorker({"--name", "w1"});
  ASSERT_EQ(cluster.Submit({"--key", "bad", "--retries", "1", "--fn", "sleep", "--input", "soon"}).exit_code, 0);
  ASSERT_TRUE(WaitState("bad", "failed"));
  EXPECT_EQ(Query(cluster.db(), "SELECT error FROM tasks WHERE key = 'bad'"),
            "sleep: input must be a number of milliseconds");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'bad' AND outcome = 'error'"), 2);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = 'bad'"), 0);
}

TEST_F(Functions, StdinIsTheInputThenTheDependenciesResults) {
  cluster.StartWorker({"--name", "w1", "--slots", "2"});
  ASSERT_EQ(cluster.Submit({"--key", "a", "--fn", "echo", "--input", "A"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "b", "--", "printf", "B"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "c", "--after", "a", "--after", "b", "--fn", "echo", "--input", "in:"}).exit_code, 0);
  // A command after a function gets its result too.
  ASSERT_EQ(cluster.Submit({"--key", "d", "--after", "c", "--", "tr", "a-z", "A-Z"}).exit_code, 0);
  auto w = cluster.Ctl({"wait", "d"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_EQ(cluster.Ctl({"result", "c"}).out, "in:AB");
  EXPECT_EQ(cluster.Ctl({"result", "d"}).out, "IN:AB");
}

TEST_F(Functions, ALongFunctionDoesNotStopHeartbeats) {
  cluster.StartWorker({"--name", "w1", "--slots", "1"});
  ASSERT_EQ(cluster.Submit({"--key", "nap", "--fn", "sleep", "--input", "2000"}).exit_code, 0);
  ASSERT_TRUE(WaitState("nap", "running"));
  // kFastBroker declares a silent worker lost after 600 ms: 1.4 s of
  // sleeping would lose it if the call blocked the worker's loop.
  const auto until = std::chrono::steady_clock::now() + 1400ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(WorkerState("w1"), "alive");
    ASSERT_EQ(State("nap"), "running");
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(WaitState("nap", "done"));
  EXPECT_EQ(WorkerState("w1"), "alive");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'nap'"), 1);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = 'nap'"), 0);
}

TEST_F(Functions, CancelAbandonsARunningCallAndFreesItsSlot) {
  Process& w1 = cluster.StartWorker({"--name", "w1", "--slots", "1"});
  ASSERT_EQ(cluster.Submit({"--key", "long", "--fn", "sleep", "--input", "60000"}).exit_code, 0);
  ASSERT_TRUE(WaitState("long", "running"));
  ASSERT_EQ(cluster.Ctl({"cancel", "long"}).exit_code, 0);
  ASSERT_TRUE(WaitState("long", "cancelled"));
  // The call sleeps on (it cannot be killed), but the slot is free.
  auto s = cluster.Submit({"--key", "quick", "--wait", "--fn", "echo", "--input", "ok"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(cluster.Ctl({"result", "quick"}).out, "ok");
  EXPECT_EQ(State("long"), "cancelled");
  // SIGTERM: nothing of ours runs, so it leaves at once, without the call.
  const auto start = std::chrono::steady_clock::now();
  w1.Signal(SIGTERM);
  ASSERT_TRUE(w1.WaitExit(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(w1.exit_code(), 0);
  EXPECT_NE(w1.Stderr().find("still running after the drain"), std::string::npos) << w1.Stderr();
  EXPECT_EQ(WorkerState("w1"), "gone");
}

TEST_F(Functions, DrainTimeoutReleasesARunningCallAndTheWorkerExits) {
  Process& w1 = cluster.StartWorker({"--name", "w1", "--drain-timeout-ms", "300"});
  ASSERT_EQ(cluster.Submit({"--key", "long", "--fn", "sleep", "--input", "60000"}).exit_code, 0);
  ASSERT_TRUE(WaitState("long", "running"));
  const auto start = std::chrono::steady_clock::now();
  w1.Signal(SIGTERM);
  ASSERT_TRUE(w1.WaitExit(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(w1.exit_code(), 0);
  EXPECT_EQ(Query(cluster.db(), "SELECT outcome FROM attempts WHERE task_key = 'long'"), "released");
  EXPECT_EQ(State("long"), "queued");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = 'long'"), 0);
}

TEST_F(Functions, AFunctionOnlyACustomWorkerHasWaitsForIt) {
  cluster.StartWorker({"--name", "plain"});
  ASSERT_TRUE(WaitAlive("plain"));
  ASSERT_EQ(cluster.Submit({"--key", "up", "--fn", "upper", "--input", "hello, world"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "wc", "--fn", "wordcount", "--input", "to be or  not\nto be"}).exit_code, 0);
  // The plain worker is idle and alive, yet gets neither.
  ASSERT_EQ(cluster.Submit({"--key", "probe", "--wait", "--fn", "noop"}).exit_code, 0);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(State("up"), "queued");
  EXPECT_EQ(State("wc"), "queued");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key IN ('up', 'wc')"), 0);

  auto custom = StartCustom({"--name", "custom", "--slots", "2"});
  ASSERT_TRUE(WaitState("up", "done")) << custom->Stderr();
  ASSERT_TRUE(WaitState("wc", "done"));
  EXPECT_EQ(cluster.Ctl({"result", "up"}).out, "HELLO, WORLD");
  EXPECT_EQ(cluster.Ctl({"result", "wc"}).out, "6\n");
  EXPECT_EQ(Query(cluster.db(), "SELECT worker FROM attempts WHERE task_key = 'up'"), "custom");
  EXPECT_EQ(Query(cluster.db(), "SELECT fns FROM workers WHERE name = 'custom'"),
            R"(["echo","noop","sleep","upper","wordcount"])");
  // It is a whole worker: commands and built-ins run there too.
  cluster.workers()[0]->Signal(SIGKILL);
  ASSERT_EQ(cluster.Submit({"--key", "cmd", "--wait", "--", "echo", "from custom"}).exit_code, 0);
  EXPECT_EQ(Query(cluster.db(), "SELECT worker FROM attempts WHERE task_key = 'cmd' AND outcome = 'done'"), "custom");
}

TEST_F(Functions, ACustomWorkerRunsUnderItsNanny) {
  auto nanny = StartCustom({"--nanny", "--name", "cn"});
  ASSERT_TRUE(WaitAlive("cn")) << nanny->Stderr();
  const pid_t first = static_cast<pid_t>(QueryInt(cluster.db(), "SELECT pid FROM workers WHERE name = 'cn'"));
  ASSERT_NE(first, nanny->pid());  // the worker is the nanny's child: the same binary again
  EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(first) + "/exe").filename(),
            "leaseq-example-worker");
  ASSERT_EQ(cluster.Submit({"--key", "u1", "--wait", "--fn", "upper", "--input", "one"}).exit_code, 0);
  EXPECT_EQ(cluster.Ctl({"result", "u1"}).out, "ONE");
  kill(first, SIGKILL);  // the nanny starts another
  ASSERT_TRUE(WaitFor([&] {
    const int64_t pid = QueryInt(cluster.db(), "SELECT pid FROM workers WHERE name = 'cn' AND state = 'alive'");
    return pid != 0 && pid != first;
  }, 10s)) << nanny->Stderr();
  ASSERT_EQ(cluster.Submit({"--key", "u2", "--wait", "--fn", "upper", "--input", "two"}).exit_code, 0);
  EXPECT_EQ(cluster.Ctl({"result", "u2"}).out, "TWO");
  nanny->Signal(SIGTERM);
  ASSERT_TRUE(nanny->WaitExit(15s));
  EXPECT_EQ(nanny->exit_code(), 0);
}

}  // namespace
}  // namespace leaseq::testing
