// Issue 8 through the real binaries: time limits (a command's process group
// stopped, a function abandoned, the broker's per-queue default), delayed
// tasks (--delay, --at), commands that cannot start (failed at once, without
// retries), --input-file with binary bytes, --wait-timeout, and the stricter
// checks of keys and argv.
#include <signal.h>

#include <cerrno>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class TimeLimits : public ::testing::Test {
 protected:
  explicit TimeLimits(std::vector<std::string> broker_args = kFastBroker)
      : cluster(std::move(broker_args)) {}
  void SetUp() override { cluster.StartBroker(); }
  std::string State(const std::string& key) {
    return Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'");
  }
  std::string Error(const std::string& key) {
    return Query(cluster.db(), "SELECT error FROM tasks WHERE key = '" + key + "'");
  }
  int64_t Attempts(const std::string& key) {
    return QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = '" + key + "'");
  }
  bool WaitState(const std::string& key, const std::string& state,
                 std::chrono::milliseconds t = 20s) {
    return WaitFor([&] { return State(key) == state; }, t);
  }
  Cluster cluster;
};

TEST_F(TimeLimits, ACommandPastItsTimeoutIsStoppedWithItsProcessGroupAndRetried) {
  cluster.StartWorker({"--name", "w1"});
  const std::string pids = cluster.dir().File("pids");
  const auto t0 = Clock::now();
  // The shell and its background sleep share a process group: both must go.
  auto s = cluster.Submit({"--key", "slow", "--timeout", "1s", "--retries", "1", "--", "sh", "-c",
                           "echo $$ >> " + pids + "; sleep 30 & sleep 30; wait"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  ASSERT_TRUE(WaitState("slow", "failed"));
  EXPECT_LT(Clock::now() - t0, 10s);  // two attempts of 1 s, a backoff, no 30 s
  EXPECT_TRUE(Has(Error("slow"), "timed out after 1s")) << Error("slow");
  EXPECT_EQ(Attempts("slow"), 2);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'slow' AND "
                                   "outcome = 'error' AND error LIKE 'timed out after 1s%'"),
            2);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = 'slow'"), 0);
  std::ifstream in(pids);
  int64_t pgid = 0, groups = 0;
  while (in >> pgid) {
    ++groups;
    // Signal 0 only asks whether any process of that group is left.
    EXPECT_TRUE(WaitFor([&] { return kill(-static_cast<pid_t>(pgid), 0) != 0 && errno == ESRCH; },
                        5s))
        << "process group " << pgid << " is still there";
  }
  EXPECT_EQ(groups, 2);
  EXPECT_EQ(cluster.workers()[0]->running(), true);
}

TEST_F(TimeLimits, AFunctionPastItsTimeoutIsAbandonedAndItsSlotFreed) {
  cluster.StartWorker({"--name", "w1", "--slots", "1"});
  const auto t0 = Clock::now();
  ASSERT_EQ(cluster.Submit({"--key", "nap", "--fn", "sleep", "--input", "8000", "--timeout", "1s"})
                .exit_code,
            0);
  ASSERT_TRUE(WaitState("nap", "failed"));
  EXPECT_LT(Clock::now() - t0, 6s);
  EXPECT_TRUE(Has(Error("nap"), "timed out after 1s")) << Error("nap");
  // The call sleeps on, but the worker's one slot is free.
  auto e = cluster.Submit({"--key", "quick", "--wait", "--wait-timeout", "5s", "--fn", "echo",
                           "--input", "ok"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(cluster.Ctl({"result", "quick"}).out, "ok");
}

class BrokerDefaultTimeout : public TimeLimits {
 protected:
  BrokerDefaultTimeout()
      : TimeLimits({"--heartbeat-ms", "200", "--liveness", "3", "--default-timeout", "1s",
                    "--default-timeout", "other=1m"}) {}
};

TEST_F(BrokerDefaultTimeout, TheQueueDefaultAppliesUnlessTheTaskHasItsOwn) {
  cluster.StartWorker({"--name", "w1", "--slots", "2"});
  ASSERT_EQ(cluster.Submit({"--key", "dflt", "--", "sleep", "30"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "own", "--timeout", "2s", "--", "sleep", "30"}).exit_code, 0);
  ASSERT_TRUE(WaitState("dflt", "failed"));
  ASSERT_TRUE(WaitState("own", "failed"));
  EXPECT_TRUE(Has(Error("dflt"), "timed out after 1s")) << Error("dflt");
  EXPECT_TRUE(Has(Error("own"), "timed out after 2s")) << Error("own");
  auto bad = RunCommand(BinDir() + "/leaseq-broker", {"--default-timeout", "10", "--bind", "tcp://127.0.0.1:1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(Has(bad.err, "bad duration '10'")) << bad.err;
}

TEST_F(TimeLimits, ADelayedTaskDoesNotStartBeforeItsTimeAndIsShownAsDelayed) {
  cluster.StartWorker({"--name", "w1"});
  ASSERT_EQ(cluster.Submit({"--key", "later", "--delay", "2s", "--", "true"}).exit_code, 0);
  auto status = cluster.Ctl({"status"});
  EXPECT_TRUE(Has(status.out, "queued     1\n  delayed  1\n")) << status.out;
  ASSERT_TRUE(WaitState("later", "done", 15s));
  const int64_t created = QueryInt(cluster.db(), "SELECT created_at FROM tasks WHERE key = 'later'");
  const int64_t not_before =
      QueryInt(cluster.db(), "SELECT not_before FROM tasks WHERE key = 'later'");
  const int64_t started =
      QueryInt(cluster.db(), "SELECT started_at FROM attempts WHERE task_key = 'later'");
  EXPECT_EQ(not_before, created + 2000);
  EXPECT_GE(started, not_before);
  EXPECT_LT(started, not_before + 3000);
  EXPECT_TRUE(Has(cluster.Ctl({"status"}).out, "  delayed  0\n"));
  // The same submission again is a no-op: the task keeps its first time.
  auto again = cluster.Submit({"--key", "later", "--delay", "2s", "--", "true"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Attempts("later"), 1);
}

TEST_F(TimeLimits, AtInThePastRunsAtOnceAndInTheFutureWaits) {
  cluster.StartWorker({"--name", "w1"});
  const auto t0 = Clock::now();
  auto s = cluster.Submit({"--key", "past", "--at", "2020-01-01T00:00:00Z", "--wait",
                           "--wait-timeout", "10s", "--", "true"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_LT(Clock::now() - t0, 5s);
  ASSERT_EQ(cluster.Submit({"--key", "future", "--at", "2099-12-31T23:00:00-01:00", "--", "true"})
                .exit_code,
            0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT not_before FROM tasks WHERE key = 'future'"),
            4102444800000);  // 2100-01-01T00:00:00Z
  auto show = cluster.Ctl({"show", "future"});
  EXPECT_TRUE(Has(show.out, "\"not_before\": 4102444800000")) << show.out;
  EXPECT_TRUE(Has(cluster.Ctl({"status"}).out, "  delayed  1\n"));
  // A few loop passes later it still has not started.
  ASSERT_EQ(cluster.Submit({"--key", "now", "--wait", "--", "true"}).exit_code, 0);
  EXPECT_EQ(State("future"), "queued");
  EXPECT_EQ(Attempts("future"), 0);
  auto bad = cluster.Submit({"--at", "2026-12-01T10:00:00", "--", "true"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(Has(bad.err, "time zone is missing")) << bad.err;
  bad = cluster.Submit({"--at", "2020-01-01T00:00:00Z", "--delay", "1s", "--", "true"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(TimeLimits, ACommandThatCannotStartFailsAfterOneAttemptDespiteRetries) {
  cluster.StartWorker({"--name", "w1"});
  auto s = cluster.Submit({"--key", "nope", "--retries", "3", "--wait", "--wait-timeout", "20s",
                           "--", "leaseq-no-such-command-xyz", "arg"});
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_EQ(State("nope"), "failed");
  EXPECT_EQ(Error("nope"), "no such command: leaseq-no-such-command-xyz");
  EXPECT_EQ(Attempts("nope"), 1);
  const std::string script = cluster.dir().File("not-executable.sh");
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  s = cluster.Submit({"--key", "noexec", "--retries", "3", "--wait", "--", script});
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_EQ(Error("noexec"), "cannot execute " + script + ": Permission denied");
  EXPECT_EQ(Attempts("noexec"), 1);
}

TEST_F(TimeLimits, InputFileCarriesBinaryBytesWhole) {
  cluster.StartWorker({"--name", "w1"});
  std::string bytes;
  for (int round = 0; round < 64; ++round) {
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>((i * 7 + round) & 0xff);
  }
  bytes += std::string(3, '\0');
  const std::string path = cluster.dir().File("input.bin");
  std::ofstream(path, std::ios::binary) << bytes;
  auto s = cluster.Submit({"--key", "bin", "--input-file", path, "--wait", "--fn", "echo"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto r = cluster.Ctl({"result", "bin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), bytes.size());
  EXPECT_TRUE(r.out == bytes);
  s = cluster.Submit({"--key", "cat", "--input-file", path, "--wait", "--", "cat"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(cluster.Ctl({"result", "cat"}).out == bytes);
  // Resubmitting the same file is a no-op; another file is a conflict.
  EXPECT_EQ(cluster.Submit({"--key", "bin", "--input-file", path, "--fn", "echo"}).exit_code, 0);
  std::ofstream(path, std::ios::binary | std::ios::app) << "x";
  EXPECT_EQ(cluster.Submit({"--key", "bin", "--input-file", path, "--fn", "echo"}).exit_code, 2);
  auto both = cluster.Submit({"--input", "a", "--input-file", path, "--fn", "echo"});
  EXPECT_EQ(both.exit_code, 2);
  auto missing = cluster.Submit({"--input-file", cluster.dir().File("none"), "--fn", "echo"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(Has(missing.err, "none")) << missing.err;
}

TEST_F(TimeLimits, WaitTimeoutGivesUpButTheTasksKeepRunning) {
  cluster.StartWorker({"--name", "w1"});
  const auto t0 = Clock::now();
  auto s = cluster.Submit({"--key", "long", "--wait-timeout", "1s", "--", "sleep", "30"});
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_LT(Clock::now() - t0, 6s);
  EXPECT_EQ(s.out, "long\n");
  EXPECT_TRUE(Has(s.err, "gave up waiting after 1s: 1 task(s) not finished; they keep running"))
      << s.err;
  EXPECT_TRUE(WaitState("long", "running", 5s));
  EXPECT_EQ(cluster.Ctl({"cancel", "long"}).exit_code, 0);
}

TEST_F(TimeLimits, KeysWithControlCharactersAndArgvWithNulAreRefusedByLine) {
  auto r = cluster.Submit({"--file", "-"},
                          "{\"key\": \"ok\", \"cmd\": [\"true\"]}\n"
                          "{\"key\": \"a\\u0001b\", \"cmd\": [\"true\"]}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "<stdin>:2: field 'key' must not contain control characters")) << r.err;
  r = cluster.Submit({"--file", "-"},
                     "\n{\"key\": \"n\", \"cmd\": [\"echo\", \"a\\u0000b\"]}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "<stdin>:2: field 'cmd': argument 1 contains a NUL byte")) << r.err;
  r = cluster.Submit({"--key", "tab\there", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "field 'key'")) << r.err;
  r = cluster.Submit({"--key", "latin1-caf\xE9", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "valid UTF-8")) << r.err;
  r = cluster.Submit({"--timeout", "10", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "bad duration '10'")) << r.err;
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), 0);
}

TEST(TimeFlags, HelpDescribesEveryNewFlag) {
  auto submit = RunCommand(BinDir() + "/leaseq-submit", {"--help"});
  for (const char* flag : {"--timeout", "--delay", "--at", "--input-file", "--wait-timeout"}) {
    EXPECT_TRUE(Has(submit.out, flag)) << flag;
  }
  EXPECT_TRUE(Has(RunCommand(BinDir() + "/leaseq-broker", {"--help"}).out, "--default-timeout"));
}

}  // namespace
}  // namespace leaseq::testing
