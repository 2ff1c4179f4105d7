// Hosts: the broker and each worker in a network namespace of its own
// (tools/testing/netns.h), the links cut and healed under them. Real
// binaries, a real SQLite file. Labelled "netns" (they need root); skipped
// where namespaces cannot be made.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <thread>

#include "harness.h"
#include "tools/testing/netns.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test_support::NetnsLab;

constexpr const char* kPort = "5555";  // inside the lab's namespaces only

class Netns : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!NetnsLab::Available(&why)) GTEST_SKIP() << why;
  }
  void StartLab(int workers, std::vector<std::string> broker_args = {}) {
    lab_ = std::make_unique<NetnsLab>(workers);
    ASSERT_TRUE(lab_->ok()) << lab_->error();
    std::vector<std::string> args = {"--db", db(), "--bind", std::string("tcp://*:") + kPort,
                                     "--insecure", "--heartbeat-ms", "200", "--liveness", "3"};
    args.insert(args.end(), broker_args.begin(), broker_args.end());
    broker_ = std::make_unique<Process>(
        NetnsLab::IpPath(), NetnsLab::In(lab_->broker_ns(), BinDir() + "/leaseq-broker", args),
        dir_.File("broker"));
    ASSERT_TRUE(WaitFor([&] { return Ctl({"status"}).exit_code == 0; }, 10s)) << broker_->Stderr();
  }
  // Worker i, named w<i>, in its namespace; it also serves queue q<i>.
  Process& StartWorker(int i, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--broker",
                                     "tcp://" + lab_->BrokerAddress(i) + ":" + kPort,
                                     "--name",
                                     Name(i),
                                     "--heartbeat-ms",
                                     "200",
                                     "--queue",
                                     "default",
                                     "--queue",
                                     "q" + std::to_string(i)};
    args.insert(args.end(), extra.begin(), extra.end());
    workers_.push_back(std::make_unique<Process>(
        NetnsLab::IpPath(), NetnsLab::In(lab_->worker_ns(i), BinDir() + "/leaseq-worker", args),
        dir_.File(Name(i))));
    return *workers_.back();
  }
  static std::string Name(int i) { return "w" + std::to_string(i); }
  bool WaitAlive(int n) {
    return WaitFor([&] { return QueryInt(db(), "SELECT count(*) FROM workers WHERE state = 'alive'") == n; },
                   15s);
  }
  CommandResult Submit(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    std::vector<std::string> all = {"--broker", std::string("tcp://127.0.0.1:") + kPort};
    all.insert(all.end(), args.begin(), args.end());
    return RunCommand(NetnsLab::IpPath(), NetnsLab::In(lab_->broker_ns(), BinDir() + "/leaseq-submit", all),
                      client_env_, stdin_text);
  }
  CommandResult Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--broker", std::string("tcp://127.0.0.1:") + kPort, "--timeout-ms",
                                    "500"};
    all.insert(all.end(), args.begin(), args.end());
    return RunCommand(NetnsLab::IpPath(), NetnsLab::In(lab_->broker_ns(), BinDir() + "/leaseq-ctl", all),
                      client_env_);
  }
  std::string db() const { return dir_.File("leaseq.db"); }
  int64_t Int(const std::string& sql) { return QueryInt(db(), sql); }
  // The worker index running the task's current attempt, or -1.
  int RunningOn(const std::string& key) {
    const std::string w = Query(db(), "SELECT worker FROM attempts WHERE task_key = '" + key +
                                          "' AND outcome = 'running' AND unstarted = 0");
    return w.empty() ? -1 : std::stoi(w.substr(1));
  }
  // Every task done, each with exactly one done attempt, none blamed.
  void ExpectAllDoneOnceUnblamed(int64_t n) {
    EXPECT_EQ(Int("SELECT count(*) FROM tasks WHERE state = 'done'"), n);
    EXPECT_EQ(Int("SELECT count(*) FROM (SELECT task_id FROM attempts WHERE outcome = 'done' "
                  "GROUP BY task_id HAVING count(*) <> 1)"),
              0);
    EXPECT_EQ(Int("SELECT coalesce(sum(deaths), 0) FROM tasks"), 0);
    // Every worker came back as itself: what its loss added is taken back.
    EXPECT_TRUE(WaitFor([&] { return Int("SELECT coalesce(sum(suspicious), 0) FROM tasks") == 0; }, 15s))
        << Int("SELECT coalesce(sum(suspicious), 0) FROM tasks");
    EXPECT_EQ(Int("SELECT count(*) FROM attempts WHERE outcome = 'lost' AND blame <> 'withdrawn'"), 0);
  }

  TempDir dir_;
  std::map<std::string, std::string> client_env_;  // of leaseq-submit and leaseq-ctl
  std::unique_ptr<NetnsLab> lab_;  // destroyed after the processes in it
  std::unique_ptr<Process> broker_;
  std::vector<std::unique_ptr<Process>> workers_;
};

// The case: allowed-failures 1, a 5 s task, its worker cut off for
// 2 s (and back, the same process), then its second worker the same way.
// Two losses, no death: the task ends done, not failed as poison.
TEST_F(Netns, TwoShortPartitionsOfItsWorkersDoNotFailAHealthyTask) {
  StartLab(2, {"--allowed-failures", "1"});
  StartWorker(0);
  StartWorker(1);
  ASSERT_TRUE(WaitAlive(2));
  ASSERT_EQ(Submit({"--key", "long", "--", "sh", "-c", "sleep 5; echo fine"}).exit_code, 0);
  for (int round = 1; round <= 2; ++round) {
    int on = -1;
    ASSERT_TRUE(WaitFor([&] { return (on = RunningOn("long")) >= 0; }, 20s)) << "round " << round;
    const auto cut_at = Clock::now();
    lab_->Cut(on);
    ASSERT_TRUE(WaitFor([&] {
      return Int("SELECT count(*) FROM attempts WHERE task_key = 'long' AND outcome = 'lost'") == round;
    }, 5s)) << "round " << round;
    std::this_thread::sleep_until(cut_at + 2s);  // the partition lasts 2 s
    lab_->Heal(on);
  }
  ASSERT_TRUE(WaitFor([&] { return Query(db(), "SELECT state FROM tasks WHERE key = 'long'") != "running" &&
                                   Query(db(), "SELECT state FROM tasks WHERE key = 'long'") != "queued"; },
                      60s));
  EXPECT_EQ(Query(db(), "SELECT state FROM tasks WHERE key = 'long'"), "done")
      << Query(db(), "SELECT error FROM tasks WHERE key = 'long'");
  EXPECT_EQ(Ctl({"result", "long"}).out, "fine\n");
  ExpectAllDoneOnceUnblamed(1);
  EXPECT_EQ(Int("SELECT count(*) FROM attempts WHERE task_key = 'long' AND blame = 'withdrawn'"), 2);
}

// A worker cut off mid-task: reclaimed within heartbeat x liveness (plus the
// reclaim pass), run elsewhere; the cut-off worker finishes its copy, and
// its result, delivered after the heal, is refused; it rejoins and works.
TEST_F(Netns, AWorkerCutOffMidTaskIsReclaimedItsStaleResultRefusedAndItRejoins) {
  StartLab(2);
  StartWorker(0);
  StartWorker(1);
  ASSERT_TRUE(WaitAlive(2));
  ASSERT_EQ(Submit({"--key", "t", "--", "sh", "-c", "sleep 1.5; echo attempt $LEASEQ_ATTEMPT"}).exit_code, 0);
  int on = -1;
  ASSERT_TRUE(WaitFor([&] { return (on = RunningOn("t")) >= 0; }, 10s));
  const int64_t cut_wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
  const auto cut_at = Clock::now();
  lab_->Cut(on);
  ASSERT_TRUE(WaitFor([&] { return Int("SELECT count(*) FROM attempts WHERE task_key = 't' AND outcome = 'lost'") == 1; },
                      5s));
  const int64_t reclaimed_after =
      Int("SELECT ended_at FROM attempts WHERE task_key = 't' AND outcome = 'lost'") - cut_wall;
  // Its last heartbeat came before the cut: lost at most 600 ms after it,
  // found by a reclaim pass (every 50 ms), on a loaded machine.
  EXPECT_LE(reclaimed_after, 600 + 400) << "reclaimed " << reclaimed_after << " ms after the cut";
  ASSERT_TRUE(WaitFor([&] { return Query(db(), "SELECT state FROM tasks WHERE key = 't'") == "done"; }, 15s));
  EXPECT_EQ(Ctl({"result", "t"}).out, "attempt 2\n");
  // The cut-off worker's copy has ended by now (1.5 s): its result waits.
  std::this_thread::sleep_until(cut_at + 2500ms);
  lab_->Heal(on);
  // Back as itself: its loss is withdrawn, its stale result acknowledged
  // and ignored.
  ASSERT_TRUE(WaitFor([&] { return Int("SELECT count(*) FROM attempts WHERE task_key = 't' AND blame = 'withdrawn'") == 1; },
                      15s));
  ASSERT_TRUE(WaitFor([&] { return Int("SELECT count(*) FROM workers WHERE state = 'alive'") == 2; }, 15s));
  EXPECT_EQ(Ctl({"result", "t"}).out, "attempt 2\n");
  EXPECT_EQ(Int("SELECT count(*) FROM attempts WHERE task_key = 't' AND outcome = 'done'"), 1);
  // It works again: a task only it serves.
  ASSERT_EQ(Submit({"--key", "only", "--queue", "q" + std::to_string(on), "--", "echo", "back"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Query(db(), "SELECT state FROM tasks WHERE key = 'only'") == "done"; }, 20s))
      << workers_[static_cast<size_t>(on)]->Stderr();
  EXPECT_EQ(Query(db(), "SELECT worker FROM attempts WHERE task_key = 'only' AND outcome = 'done'"), Name(on));
  ExpectAllDoneOnceUnblamed(2);
}

// The broker cut off from every worker at once, then back: every task is
// done, once.
TEST_F(Netns, TheBrokerCutOffFromAllWorkersDoesEveryTaskOnceAfterTheHeal) {
  StartLab(3);
  for (int i = 0; i < 3; ++i) StartWorker(i);
  ASSERT_TRUE(WaitAlive(3));
  std::string lines;
  for (int i = 0; i < 30; ++i) {
    lines += "{\"key\": \"k" + std::to_string(i) + "\", \"cmd\": [\"sh\", \"-c\", \"sleep 0.2; echo $LEASEQ_TASK_KEY\"]}\n";
  }
  ASSERT_EQ(Submit({"--file", "-"}, lines).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Int("SELECT count(*) FROM tasks WHERE state = 'done'") >= 5; }, 20s));
  const auto cut_at = Clock::now();
  lab_->CutAll();
  std::this_thread::sleep_until(cut_at + 2s);
  lab_->HealAll();
  ASSERT_TRUE(WaitFor([&] { return Int("SELECT count(*) FROM tasks WHERE state = 'done'") == 30; }, 60s))
      << Int("SELECT count(*) FROM tasks WHERE state = 'done'");
  EXPECT_EQ(Int("SELECT count(*) FROM tasks WHERE result <> CAST(key || char(10) AS BLOB)"), 0);
  ExpectAllDoneOnceUnblamed(30);
}

// A link that goes down and up every 250 ms for 4 s: nothing lost, nothing
// done twice, nothing blamed.
TEST_F(Netns, AFlappingLinkLosesNothingAndBlamesNothing) {
  StartLab(2);
  StartWorker(0);
  StartWorker(1);
  ASSERT_TRUE(WaitAlive(2));
  std::string lines;
  for (int i = 0; i < 20; ++i) {
    lines += "{\"key\": \"f" + std::to_string(i) + "\", \"cmd\": [\"sh\", \"-c\", \"sleep 0.3; echo $LEASEQ_TASK_KEY\"]}\n";
  }
  ASSERT_EQ(Submit({"--file", "-"}, lines).exit_code, 0);
  const auto start = Clock::now();
  for (int i = 0; Clock::now() < start + 4s; ++i) {
    if (i % 2 == 0) {
      lab_->Cut(0);
    } else {
      lab_->Heal(0);
    }
    std::this_thread::sleep_until(start + (i + 1) * 250ms);
  }
  lab_->Heal(0);
  ASSERT_TRUE(WaitFor([&] { return Int("SELECT count(*) FROM tasks WHERE state = 'done'") == 20; }, 60s))
      << Int("SELECT count(*) FROM tasks WHERE state = 'done'");
  EXPECT_EQ(Int("SELECT count(*) FROM tasks WHERE result <> CAST(key || char(10) AS BLOB)"), 0);
  ExpectAllDoneOnceUnblamed(20);
}

// A client cut off from the broker in the middle of a large `--file`
// submission (the client on a host of its own): the batch is stored whole
// or not at all, and sending it again after the heal stores it once.
TEST_F(Netns, APartitionDuringASubmissionStoresAllOrNothing) {
  StartLab(1);  // no worker: host 0 is the client's
  const int n = 20000;
  {
    std::ofstream f(dir_.File("batch.jsonl"));
    for (int i = 0; i < n; ++i) f << "{\"key\": \"s" << i << "\", \"cmd\": [\"true\"]}\n";
  }
  const std::vector<std::string> args = {"--broker", "tcp://" + lab_->BrokerAddress(0) + ":" + kPort,
                                         "--file", dir_.File("batch.jsonl")};
  Process client(NetnsLab::IpPath(), NetnsLab::In(lab_->worker_ns(0), BinDir() + "/leaseq-submit", args),
                 dir_.File("client"));
  const auto start = Clock::now();
  std::this_thread::sleep_until(start + 150ms);
  lab_->Cut(0);
  std::this_thread::sleep_until(start + 3s);
  lab_->Heal(0);
  ASSERT_TRUE(client.WaitExit(60s)) << client.Stderr();
  const int64_t stored = Int("SELECT count(*) FROM tasks");
  EXPECT_TRUE(stored == 0 || stored == n) << stored << " of " << n << " stored; client: " << client.Stderr();
  if (client.exit_code() == 0) {
    EXPECT_EQ(stored, n);
  }
  // Again, after the heal: stored once (the same keys and fields: no-ops).
  // Time enough for a slow broker (ASan) to check 20,000 keys in one try.
  std::vector<std::string> again_args = args;
  again_args.insert(again_args.end(), {"--timeout-ms", "30000"});
  CommandResult again = RunCommand(NetnsLab::IpPath(),
                                   NetnsLab::In(lab_->worker_ns(0), BinDir() + "/leaseq-submit", again_args));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Int("SELECT count(*) FROM tasks"), n);
}

// A worker drained (SIGTERM) while it is cut off: its task ends meanwhile
// and is run again elsewhere; once healed, the worker registers as itself
// (its loss withdrawn), its result is refused as stale, and it leaves with
// its goodbye acknowledged.
TEST_F(Netns, ADrainDuringAPartitionLeavesCleanlyAndBlamesNothing) {
  StartLab(2);
  Process& w0 = StartWorker(0, {"--drain-timeout-ms", "8000"});
  ASSERT_TRUE(WaitAlive(1));
  ASSERT_EQ(Submit({"--key", "d", "--", "sh", "-c", "sleep 1; echo attempt $LEASEQ_ATTEMPT"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunningOn("d") == 0; }, 10s));
  const auto cut_at = Clock::now();
  lab_->Cut(0);
  w0.Signal(SIGTERM);
  StartWorker(1);
  ASSERT_TRUE(WaitFor([&] { return Query(db(), "SELECT state FROM tasks WHERE key = 'd'") == "done"; }, 15s));
  EXPECT_EQ(Ctl({"result", "d"}).out, "attempt 2\n");
  std::this_thread::sleep_until(cut_at + 2s);
  lab_->Heal(0);
  ASSERT_TRUE(w0.WaitExit(20s)) << w0.Stderr();
  EXPECT_EQ(w0.exit_code(), 0) << w0.Stderr();
  EXPECT_NE(w0.Stderr().find("goodbye acknowledged"), std::string::npos) << w0.Stderr();
  EXPECT_EQ(Query(db(), "SELECT state FROM workers WHERE name = 'w0'"), "gone");
  ExpectAllDoneOnceUnblamed(1);
}

// CURVE between hosts: an admitted worker on its own host runs tasks, and
// after a partition reconnects through a new handshake; a worker whose key
// is not admitted is refused.
TEST_F(Netns, CurveAcrossHostsAdmitsItsWorkerAgainAfterAPartitionAndRefusesAStranger) {
  const std::string allow = dir_.File("allow");
  ASSERT_EQ(mkdir(allow.c_str(), 0700), 0);
  for (const char* name : {"broker", "client", "worker", "stranger"}) {
    CommandResult r = RunCommand(BinDir() + "/leaseq-ctl", {"keygen", dir_.File(name)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  for (const char* name : {"client", "worker"}) {
    std::ifstream in(dir_.File(name) + ".pub");
    std::ofstream(allow + "/" + name + ".pub") << in.rdbuf();
  }
  client_env_ = {{"LEASEQ_CURVE_SECRET", dir_.File("client") + ".secret"},
                 {"LEASEQ_CURVE_SERVER", dir_.File("broker") + ".pub"}};
  StartLab(2, {"--curve-secret", dir_.File("broker") + ".secret", "--curve-allow", allow});
  auto curve = [&](const std::string& key) {
    return std::vector<std::string>{"--curve-secret", dir_.File(key) + ".secret", "--curve-server",
                                    dir_.File("broker") + ".pub"};
  };
  StartWorker(0, curve("worker"));
  Process& stranger = StartWorker(1, curve("stranger"));
  ASSERT_TRUE(WaitAlive(1));
  ASSERT_EQ(Submit({"--key", "c", "--", "sh", "-c", "sleep 1; echo secret $LEASEQ_ATTEMPT"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunningOn("c") == 0; }, 10s));
  const auto cut_at = Clock::now();
  lab_->Cut(0);
  std::this_thread::sleep_until(cut_at + 2s);
  lab_->Heal(0);
  ASSERT_TRUE(WaitFor([&] { return Query(db(), "SELECT state FROM tasks WHERE key = 'c'") == "done"; }, 30s))
      << workers_[0]->Stderr();
  EXPECT_EQ(Ctl({"result", "c"}).out, "secret 2\n");
  EXPECT_EQ(Query(db(), "SELECT worker FROM attempts WHERE task_key = 'c' AND outcome = 'done'"), "w0");
  ExpectAllDoneOnceUnblamed(1);
  EXPECT_EQ(Int("SELECT count(*) FROM workers WHERE name = 'w1'"), 0);
  EXPECT_NE(stranger.Stderr().find("refused our CURVE key"), std::string::npos) << stranger.Stderr();
}

}  // namespace
}  // namespace leaseq::testing
