// Clock steps: the broker's wall clock stepped an hour forward or back
// (libfaketime on the broker process only, never the machine's clock; the
// monotonic clock is left alone, as NTP leaves it). Leases are stored as
// wall times: a step must neither expire live leases nor keep a dead
// worker's, and a broker restarted after a step recovers its leases.
// Skipped where libfaketime (Debian package faketime) is missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

const char* kLibFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

class ClockStep : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kLibFaketime, R_OK) != 0) GTEST_SKIP() << "needs libfaketime (Debian package faketime)";
    Offset("+0");
    cluster.set_broker_env({{"LD_PRELOAD", kLibFaketime},
                            {"FAKETIME_TIMESTAMP_FILE", offset_file()},
                            {"FAKETIME_CACHE_DURATION", "1"},
                            {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
                            // Under ASan (make asan) libfaketime is preloaded
                            // ahead of the ASan runtime, which refuses to
                            // start unless told that this is meant.
                            {"ASAN_OPTIONS", "verify_asan_link_order=0"}});
    cluster.StartBroker();
  }
  std::string offset_file() const { return cluster.dir().File("faketime.rc"); }
  // The broker's wall clock: real time plus this offset ("+1h", "-1h").
  void Offset(const std::string& offset) { std::ofstream(offset_file()) << offset << "\n"; }
  bool SawStep(int steps = 1) {
    return WaitFor([&] {
      const std::string err = cluster.broker().Stderr();
      int n = 0;
      for (size_t at = err.find("the wall clock stepped"); at != std::string::npos;
           at = err.find("the wall clock stepped", at + 1)) {
        ++n;
      }
      return n >= steps;
    }, 10s);
  }
  std::string State(const std::string& key) {
    return Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'");
  }
  int64_t Attempts(const std::string& key) {
    return QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = '" + key + "'");
  }
  bool Running(const std::string& key) {
    return QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = '" + key +
                                      "' AND outcome = 'running' AND unstarted = 0") == 1;
  }

  Cluster cluster{kFastBroker};
};

TEST_F(ClockStep, AnHourForwardExpiresNoLiveLease) {
  cluster.StartWorker({"--name", "w1", "--heartbeat-ms", "200"});
  ASSERT_EQ(cluster.Submit({"--key", "fwd", "--", "sh", "-c", "sleep 3; echo ok"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Running("fwd"); }, 10s));
  Offset("+1h");
  ASSERT_TRUE(SawStep()) << cluster.broker().Stderr();
  ASSERT_TRUE(WaitFor([&] { return State("fwd") == "done"; }, 20s)) << State("fwd");
  EXPECT_EQ(Attempts("fwd"), 1);  // never reclaimed
  // Stored times are in the new clock's terms: ended an hour "later".
  const int64_t ran = QueryInt(cluster.db(), "SELECT ended_at - started_at FROM attempts WHERE task_key = 'fwd'");
  EXPECT_GT(ran, 3'590'000);
  EXPECT_LT(ran, 3'700'000);
}

TEST_F(ClockStep, AnHourBackKeepsNoDeadWorkersLease) {
  cluster.StartWorker({"--name", "w1", "--heartbeat-ms", "200", "--queue", "default"});
  ASSERT_EQ(cluster.Submit({"--key", "back", "--", "sh", "-c", "sleep 2; echo ok"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Running("back"); }, 10s));
  Offset("-1h");
  ASSERT_TRUE(SawStep()) << cluster.broker().Stderr();
  cluster.workers()[0]->Signal(SIGKILL);  // dead: no nanny, no goodbye
  // Reclaimed within heartbeat x liveness, not an hour later.
  ASSERT_TRUE(WaitFor([&] { return Attempts("back") == 1 && State("back") == "queued"; }, 5s)) << State("back");
  cluster.StartWorker({"--name", "w2", "--heartbeat-ms", "200"});
  ASSERT_TRUE(WaitFor([&] { return State("back") == "done"; }, 20s)) << State("back");
  EXPECT_EQ(Attempts("back"), 2);
}

TEST_F(ClockStep, ABrokerRestartedAfterAStepRecoversItsLeases) {
  cluster.StartWorker({"--name", "w1", "--heartbeat-ms", "200"});
  ASSERT_EQ(cluster.Submit({"--key", "r", "--", "sh", "-c", "sleep 3; echo ok"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Running("r"); }, 10s));
  Offset("+1h");
  ASSERT_TRUE(SawStep()) << cluster.broker().Stderr();
  cluster.StopBroker(SIGKILL);
  cluster.StartBroker();  // its wall clock an hour ahead from the start
  ASSERT_TRUE(WaitFor([&] { return State("r") == "done"; }, 20s)) << State("r");
  EXPECT_EQ(Attempts("r"), 1);  // the running task survived the restart
}

}  // namespace
}  // namespace leaseq::testing
