// Operating a queue through the real binaries: schema upgrade and refusal,
// pause/resume across a restart, list / retry --state / cancel --queue,
// wait --timeout, purge against sqlite3's counts, --retain, and an online
// backup taken under load that a second broker then serves.
#include <signal.h>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "broker/schema_v1_fixture.h"
#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// "N verb" as leaseq-ctl prints the outcome of a bulk command.
int64_t Leading(const std::string& out) { return out.empty() ? -1 : std::stoll(out); }

std::string Lines(const std::string& prefix, int n, const std::string& cmd_json,
                  const std::string& queue = "default") {
  std::string lines;
  for (int i = 0; i < n; ++i) {
    lines += "{\"key\": \"" + prefix + std::to_string(i) + "\", \"queue\": \"" + queue +
             "\", \"cmd\": " + cmd_json + "}\n";
  }
  return lines;
}

class Ops : public ::testing::Test {
 protected:
  bool WaitState(const std::string& key, const std::string& state, std::chrono::milliseconds t = 20s) {
    return WaitFor([&] { return Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'") == state; }, t);
  }
  Cluster cluster{kFastBroker};
};

TEST_F(Ops, AVersion1FileIsUpgradedInPlaceAndServed) {
  WriteV1Fixture(cluster.db());
  cluster.StartBroker();
  ASSERT_TRUE(WaitFor([&] { return Has(cluster.broker().Stderr(), "from schema version 1 to 4"); }, 5s))
      << cluster.broker().Stderr();
  EXPECT_EQ(QueryInt(cluster.db(), "PRAGMA user_version"), 4);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), kV1FixtureTasks);
  auto r = cluster.Ctl({"result", "done1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "R1\n");
  r = cluster.Ctl({"list", "--state", "failed"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "fail1")) << r.out;
  EXPECT_TRUE(Has(r.out, "exit status 3: boom")) << r.out;
  EXPECT_FALSE(Has(r.out, "more")) << "first line only: " << r.out;
  // A worker takes the queued tasks of the old file (and run1's lease lapses).
  cluster.StartWorker({"--name", "w2", "--queue", "default", "--queue", "gpu"});
  ASSERT_TRUE(WaitState("queued1", "done"));
  EXPECT_EQ(cluster.Ctl({"result", "queued1"}).out, "hi");
  ASSERT_TRUE(WaitState("wait1", "done", 30s)) << cluster.broker().Stderr();
  // The counters the broker keeps (no triggers since version 4) say what
  // the rows say, as a user counts them with sqlite3.
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM (SELECT state, count(*) FROM tasks "
                                   "GROUP BY 1 EXCEPT SELECT state, n FROM task_state_counts)"),
            0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT n FROM task_state_counts WHERE state = 'done'"),
            QueryInt(cluster.db(), "SELECT count(*) FROM tasks WHERE state = 'done'"));
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
}

TEST(OpsSchema, AFileOfANewerReleaseIsRefusedWithExit2) {
  TempDir dir;
  const std::string db = dir.File("jobs.db");
  WriteV1Fixture(db);
  {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec("PRAGMA user_version = 5");
  }
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(FreePort());
  auto r = RunCommand(BinDir() + "/leaseq-broker", {"--db", db, "--bind", ep}, {}, "", 20s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(Has(r.err, "jobs.db has schema version 5; this leaseq-broker knows up to 4: use a newer leaseq"))
      << r.err;
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 5);
}

TEST_F(Ops, APausedQueueStaysPausedAcrossABrokerRestartUntilResumed) {
  cluster.StartBroker();
  cluster.StartWorker({"--name", "w1", "--queue", "default", "--queue", "gpu"});
  auto r = cluster.Ctl({"pause", "gpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(cluster.Submit({"--key", "g1", "--queue", "gpu", "--", "true"}).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "c1", "--wait", "--", "true"}).exit_code, 0);
  EXPECT_EQ(Query(cluster.db(), "SELECT state FROM tasks WHERE key = 'g1'"), "queued");
  r = cluster.Ctl({"status"});
  EXPECT_TRUE(Has(r.out, "paused     gpu")) << r.out;
  cluster.StopBroker(SIGTERM);
  cluster.StartBroker();
  // The worker comes back by itself; work of other queues goes on.
  ASSERT_EQ(cluster.Submit({"--key", "c2", "--wait", "--", "true"}).exit_code, 0);
  EXPECT_EQ(Query(cluster.db(), "SELECT state FROM tasks WHERE key = 'g1'"), "queued");
  r = cluster.Ctl({"list", "--state", "queued"});
  EXPECT_TRUE(Has(r.out, "queue paused")) << r.out;
  r = cluster.Ctl({"resume", "gpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "resumed")) << r.out;
  ASSERT_TRUE(WaitState("g1", "done"));
  EXPECT_FALSE(Has(cluster.Ctl({"status"}).out, "paused"));
}

TEST_F(Ops, ListRetryByStateAndCancelByQueue) {
  cluster.StartBroker();
  cluster.StartWorker({"--name", "w1", "--slots", "4"});
  ASSERT_EQ(cluster.Submit({"--file", "-"},
                           Lines("f", 5, R"(["sh", "-c", "echo boom >&2; echo second line >&2; exit 3"])"))
                .exit_code,
            0);
  ASSERT_EQ(cluster.Submit({"--file", "-"}, Lines("g", 4, R"(["true"])", "gpu")).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("failed") == 5; }, 20s));
  auto r = cluster.Ctl({"list", "--state", "failed", "--limit", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;  // header + 3
  EXPECT_TRUE(Has(r.out, "exit status 3: boom")) << r.out;
  EXPECT_FALSE(Has(r.out, "second line")) << r.out;
  EXPECT_TRUE(Has(r.err, "3 of 5")) << r.err;
  r = cluster.Ctl({"list", "--state", "queued", "--queue", "gpu", "--json"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;
  EXPECT_TRUE(Has(r.out, "\"unservable\":\"no live worker serves queue gpu\"")) << r.out;
  r = cluster.Ctl({"status"});
  EXPECT_TRUE(Has(r.out, "queue gpu: 4 queued, no live worker serves it")) << r.out;
  EXPECT_TRUE(Has(cluster.Ctl({"list", "--queue", "nope"}).out, "KEY"));

  const int64_t attempts = QueryInt(cluster.db(), "SELECT count(*) FROM attempts");
  r = cluster.Ctl({"retry", "--state", "failed", "--queue", "default"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Leading(r.out), 5) << r.out;
  ASSERT_TRUE(WaitFor([&] { return QueryInt(cluster.db(), "SELECT count(*) FROM attempts") == attempts + 5 &&
                                   cluster.CountState("failed") == 5; }, 20s));
  r = cluster.Ctl({"cancel", "--queue", "gpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Leading(r.out), 4) << r.out;
  EXPECT_EQ(cluster.CountState("cancelled"), 4);
  r = cluster.Ctl({"cancel", "--queue", "gpu"});
  EXPECT_EQ(Leading(r.out), 0) << r.out;

  // A wait on failures names them, the first ten, and how many more.
  std::vector<std::string> args = {"wait"};
  for (int i = 0; i < 5; ++i) args.push_back("f" + std::to_string(i));
  for (int i = 0; i < 4; ++i) args.push_back("g" + std::to_string(i));
  r = cluster.Ctl(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "f0: exit status 3: boom\n")) << r.err;
  EXPECT_TRUE(Has(r.err, "g3: cancelled")) << r.err;
}

TEST_F(Ops, BadInputIsRefusedWithExit2) {
  cluster.StartBroker();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"list", "--state", "bogus"},
           {"list", "--limit", "-1"},
           {"list", "--limit", "ten"},
           {"retry", "--state", "done"},
           {"retry", "--queue", "q"},
           {"retry", "k", "--state", "failed"},
           {"cancel"},
           {"purge", "--state", "queued"},
           {"purge"},
           {"purge", "--state", "done", "--older-than", "5"},
           {"wait", "k", "--timeout", "1.5s"},
           {"backup", cluster.db()}}) {
    auto r = cluster.Ctl(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_EQ(cluster.Ctl({"list", "--queue", "unknown"}).exit_code, 0);
  EXPECT_EQ(cluster.Ctl({"pause", "not-yet-used"}).exit_code, 0);
}

TEST_F(Ops, WaitTimeoutStopsWaitingWithExit1AndTheTaskGoesOn) {
  cluster.StartBroker();
  cluster.StartWorker({"--name", "w1"});
  ASSERT_EQ(cluster.Submit({"--key", "slow", "--", "sleep", "30"}).exit_code, 0);
  ASSERT_TRUE(WaitState("slow", "running"));
  const auto start = std::chrono::steady_clock::now();
  auto r = cluster.Ctl({"wait", "slow", "--timeout", "1500ms"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "gave up waiting")) << r.err;
  EXPECT_TRUE(Has(r.err, "1 running")) << r.err;
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 10s);
  EXPECT_EQ(Query(cluster.db(), "SELECT state FROM tasks WHERE key = 'slow'"), "running");
  // 0 would mean no limit at all: refused, as leaseq-submit --wait-timeout 0s.
  r = cluster.Ctl({"wait", "slow", "--timeout", "0s"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(Has(r.err, "longer than 0")) << r.err;
}

TEST_F(Ops, PurgeDeletesWhatItSaysAndTheCountersStayExact) {
  cluster.StartBroker();
  cluster.StartWorker({"--name", "w1", "--slots", "4"});
  ASSERT_EQ(cluster.Submit({"--file", "-"}, Lines("d", 60, R"(["true"])")).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--file", "-"}, Lines("f", 7, R"(["false"])")).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "after", "--after", "d0", "--queue", "idle", "--", "true"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") == 60 && cluster.CountState("failed") == 7; }, 30s));
  auto r = cluster.Ctl({"purge", "--state", "done", "--older-than", "1h"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Leading(r.out), 0) << r.out;
  const int64_t before = QueryInt(cluster.db(), "SELECT count(*) FROM tasks WHERE state = 'done'");
  r = cluster.Ctl({"purge", "--state", "done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const int64_t after = QueryInt(cluster.db(), "SELECT count(*) FROM tasks WHERE state = 'done'");
  EXPECT_EQ(Leading(r.out), before - after) << r.out;
  EXPECT_EQ(after, 1);  // d0: 'after' (queued, in a queue no worker takes) needs its result
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_id NOT IN (SELECT id FROM tasks)"), 0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM task_state_counts c WHERE n <> "
                                   "(SELECT count(*) FROM tasks t WHERE t.state = c.state)"), 0);
  r = cluster.Ctl({"purge", "--state", "failed", "--queue", "default"});
  EXPECT_EQ(Leading(r.out), 7) << r.out;
  EXPECT_EQ(Query(cluster.db(), "SELECT n FROM task_state_counts WHERE state = 'failed'"), "0");
  EXPECT_EQ(Query(cluster.db(), "PRAGMA integrity_check"), "ok");
  // The file reuses what was freed (auto_vacuum INCREMENTAL on a new file).
  EXPECT_EQ(QueryInt(cluster.db(), "PRAGMA auto_vacuum"), 2);
  EXPECT_EQ(QueryInt(cluster.db(), "PRAGMA freelist_count"), 0);
}

TEST(OpsRetention, TheBrokerPurgesFinishedTasksOlderThanRetain) {
  std::vector<std::string> args = kFastBroker;
  args.insert(args.end(), {"--retain", "1s"});
  Cluster cluster(args);
  cluster.StartBroker();
  cluster.StartWorker({"--name", "w1", "--slots", "4"});
  ASSERT_EQ(cluster.Submit({"--file", "-"}, Lines("d", 50, R"(["true"])")).exit_code, 0);
  ASSERT_EQ(cluster.Submit({"--key", "slow", "--", "sleep", "30"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return QueryInt(cluster.db(), "SELECT count(*) FROM tasks") == 1; }, 20s))
      << cluster.broker().Stderr();
  EXPECT_EQ(Query(cluster.db(), "SELECT key FROM tasks"), "slow");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(Query(cluster.db(), "SELECT n FROM task_state_counts WHERE state = 'done'"), "0");
  EXPECT_TRUE(Has(cluster.broker().Stderr(), "--retain: purged")) << cluster.broker().Stderr();
}

TEST_F(Ops, ABackupTakenUnderLoadHasEveryAcknowledgedTaskAndABrokerOnItServesThem) {
  cluster.StartBroker();
  cluster.StartWorker({"--name", "w1", "--slots", "4"});
  const int n = 300;
  ASSERT_EQ(cluster.Submit({"--file", "-"}, Lines("t", n, R"(["sh", "-c", "sleep 0.02; echo $LEASEQ_TASK_KEY"])"))
                .exit_code,
            0);
  ASSERT_TRUE(WaitFor([&] { return cluster.CountState("done") >= 20; }, 20s));
  const int64_t done_before = cluster.CountState("done");
  const std::string copy = cluster.dir().File("copy.db");
  auto r = cluster.Ctl({"backup", copy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, copy)) << r.out;
  EXPECT_LT(cluster.CountState("done"), n) << "the worker was still busy during the backup";
  EXPECT_EQ(Query(copy, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(QueryInt(copy, "SELECT count(*) FROM tasks"), n);
  EXPECT_GE(QueryInt(copy, "SELECT count(*) FROM tasks WHERE state = 'done'"), done_before);

  // A broker started on the copy serves what is left (the copy's running
  // tasks come back when their worker, absent there, is declared lost).
  const std::string ep2 = "tcp://127.0.0.1:" + std::to_string(FreePort());
  std::vector<std::string> args = {"--db", copy, "--bind", ep2};
  args.insert(args.end(), kFastBroker.begin(), kFastBroker.end());
  Process broker2(BinDir() + "/leaseq-broker", args, cluster.dir().File("broker-copy"));
  Process worker2(BinDir() + "/leaseq-worker", {"--broker", ep2, "--name", "w9", "--slots", "8"},
                  cluster.dir().File("worker-copy"));
  ASSERT_TRUE(WaitFor([&] { return QueryInt(copy, "SELECT count(*) FROM tasks WHERE state = 'done'") == n; }, 60s))
      << broker2.Stderr();
  auto result = RunCommand(BinDir() + "/leaseq-ctl", {"--broker", ep2, "result", "t" + std::to_string(n - 1)});
  EXPECT_EQ(result.out, "t" + std::to_string(n - 1) + "\n");
  worker2.Signal(SIGKILL);
  broker2.Signal(SIGKILL);
}

}  // namespace
}  // namespace leaseq::testing
