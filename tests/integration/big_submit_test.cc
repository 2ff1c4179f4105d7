// A large submission holds the broker's loop for longer than a worker's
// silence limit (heartbeat x liveness). The broker keeps sending heartbeats
// while it stores the tasks, and takes its own stall back afterwards: the
// worker running a task must not reconnect, be declared lost or have its
// lease reclaimed, and the task runs once.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

// 100 ms x 3: a worker unheard for 300 ms is lost, a lease lapses as soon.
const std::vector<std::string> kQuickBroker = {"--heartbeat-ms", "100", "--liveness", "3"};
constexpr int64_t kSilenceLimitMs = 300;
// How long storing the big submission should hold the broker's loop: twice
// the silence limit. Its size is measured for that (this VM's speed varies
// by 2-3x between hours, and a sanitizer build is slower still): long
// enough to exceed the limit, short enough that the commit that follows
// (about 0.35x the storing, one call the loop cannot interleave heartbeats
// with) stays under it.
constexpr int64_t kTargetStallMs = 2 * kSilenceLimitMs;
constexpr int kCalibrationTasks = 100000;

// The longest "held the loop for N ms" the broker logged; 0: none.
int64_t LongestStall(const std::string& log) {
  static const std::regex kHeld("held the loop for ([0-9]+) ms");
  int64_t longest = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kHeld); it != std::sregex_iterator(); ++it) {
    longest = std::max<int64_t>(longest, std::stoll((*it)[1].str()));
  }
  return longest;
}

// Writes n bulk tasks (another queue: the worker takes none of them, the
// broker only stores them) to a file; returns its path.
std::string BulkFile(Cluster& cluster, const std::string& name, int64_t n) {
  const std::string path = cluster.dir().File(name);
  std::ofstream out(path);
  for (int64_t i = 0; i < n; ++i) out << "{\"fn\":\"noop\",\"queue\":\"bulk\"}\n";
  return path;
}

TEST(BigSubmit, WorkersKeepTheirLeasesWhileTheBrokerStoresIt) {
  Cluster cluster(kQuickBroker);
  cluster.StartBroker();
  // How fast this build stores tasks now (a stall under 100 ms is not
  // logged: then at least that fast).
  CommandResult probe = cluster.Submit({"--file", BulkFile(cluster, "probe.jsonl", kCalibrationTasks)});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  const int64_t probe_ms = std::max<int64_t>(100, LongestStall(cluster.broker().Stderr()));
  const int64_t tasks = std::clamp<int64_t>(kCalibrationTasks * kTargetStallMs / probe_ms, 50000, 2000000);
  Process& worker = cluster.StartWorker({"--name", "w1", "--slots", "1"});
  ASSERT_EQ(cluster.Submit({"--key", "long", "--", "sh", "-c", "sleep 2; echo ok"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] {
    return QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'long' AND "
                                  "outcome = 'running' AND unstarted = 0") == 1;
  }, 10s));

  CommandResult big =
      cluster.Submit({"--file", BulkFile(cluster, "big.jsonl", tasks), "--timeout-ms", "120000"});
  ASSERT_EQ(big.exit_code, 0) << big.err;
  // The broker says how long it held its loop (and gave that time back):
  // longer than the silence limit, or this test tested nothing.
  ASSERT_GT(LongestStall(cluster.broker().Stderr()), kSilenceLimitMs)
      << tasks << " tasks after a probe of " << probe_ms << " ms\n" << cluster.broker().Stderr();
  EXPECT_EQ(cluster.CountState("queued"), kCalibrationTasks + tasks);

  ASSERT_TRUE(WaitFor([&] {
    return Query(cluster.db(), "SELECT state FROM tasks WHERE key = 'long'") == "done";
  }, 20s));
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'long'"), 1);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE outcome <> 'done'"), 0);
  EXPECT_EQ(worker.Stderr().find("no word from the broker"), std::string::npos)
      << worker.Stderr() << "broker:\n" << cluster.broker().Stderr();
  const std::string after = cluster.broker().Stderr();
  EXPECT_EQ(after.find(" lost ("), std::string::npos) << after;
  EXPECT_EQ(after.find("lapsed"), std::string::npos) << after;
}

}  // namespace
}  // namespace leaseq::testing
