// Unit tests of the --http pieces that need no socket: the listen rule, the
// token file, events published only by a commit, the inbox, and /metrics and
// the API read through a second, read-only Store on a real file.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "broker/http/api.h"
#include "broker/http/http_server.h"
#include "broker/http/metrics.h"
#include "broker/inbox.h"
#include "broker/store_test_util.h"
#include "tools/testing/temp_dir.h"

namespace leaseq {
namespace {

using testing::StoreTest;
using testing::Task;

TEST(HttpCheck, LoopbackWithoutTokenOthersNeedOne) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(HttpServer::Check("127.0.0.1:8080", false, &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  EXPECT_TRUE(HttpServer::Check("[::1]:0", false, &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_TRUE(HttpServer::Check("localhost:1", false, &host, &port).ok());
  Status s = HttpServer::Check("0.0.0.0:8080", false, &host, &port);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--http-token-file"), std::string::npos) << s.message();
  EXPECT_TRUE(HttpServer::Check("0.0.0.0:8080", true, &host, &port).ok());
  for (const char* bad : {"8080", ":8080", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000",
                          "127.0.0.1:80x"}) {
    EXPECT_FALSE(HttpServer::Check(bad, true, &host, &port).ok()) << bad;
  }
}

TEST(HttpCheck, TokenFileFirstLineTrimmed) {
  test_support::TempDir dir("leaseq-http-test");
  const std::string path = dir.File("token");
  std::ofstream(path) << "  s3cret \nignored\n";
  std::string token;
  ASSERT_TRUE(HttpServer::LoadToken(path, &token).ok());
  EXPECT_EQ(token, "s3cret");
  std::ofstream(path) << "\n";
  EXPECT_FALSE(HttpServer::LoadToken(path, &token).ok());
  EXPECT_FALSE(HttpServer::LoadToken(path + ".missing", &token).ok());
}

TEST(Histogram, BucketsByUpperBound) {
  Histogram h;
  h.Observe(0.001);   // le 0.001
  h.Observe(0.0011);  // le 0.0025
  h.Observe(1e6);     // +Inf only
  EXPECT_EQ(h.count, 3u);
  EXPECT_EQ(h.buckets[0], 1u);
  EXPECT_EQ(h.buckets[1], 1u);
  EXPECT_EQ(h.buckets.back(), 1u);
}

TEST(Inbox, ReplyReachesItsCallerOnly) {
  Inbox inbox;
  std::thread loop([&] {
    std::vector<std::pair<std::string, wire::Message>> got;
    while (got.empty()) got = inbox.Take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(Inbox::Owns(got[0].first));
    EXPECT_FALSE(Inbox::Owns(std::string("\0\1\2\3\4", 5)));  // ZeroMQ's own
    inbox.Deliver(got[0].first, wire::Make(wire::Command::kReply, {{"changed", {"k"}}}));
  });
  wire::Message reply;
  ASSERT_TRUE(inbox.Call(wire::Make(wire::Command::kRetry, {{"keys", {"k"}}}), 10000, &reply).ok());
  EXPECT_EQ(reply.body["changed"][0], "k");
  loop.join();
  // Nobody takes it: the caller gives up, and a late reply goes nowhere.
  EXPECT_EQ(inbox.Call(wire::Make(wire::Command::kRetry), 50, &reply).code(), Status::Code::kUnavailable);
  inbox.Close();
  EXPECT_EQ(inbox.Call(wire::Make(wire::Command::kRetry), 10000, &reply).code(), Status::Code::kUnavailable);
}

class HttpStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    metrics_ = std::make_shared<BrokerMetrics>(Now());
    store_->set_metrics(metrics_.get());
    ASSERT_OK(Store::OpenReadOnly(path_, &reader_));
  }
  void TearDown() override {
    reader_.reset();
    StoreTest::TearDown();
  }
  std::shared_ptr<BrokerMetrics> metrics_;
  std::unique_ptr<Store> reader_;
};

TEST_F(HttpStoreTest, EventsCountOnlyWhenThePassCommits) {
  ASSERT_OK(Submit({Task("a"), Task("b", {}, /*retries=*/1)}));
  Run("a");
  EXPECT_EQ(metrics_->Snapshot().done, 1);
  EXPECT_EQ(metrics_->Snapshot().attempts["done"], 1);
  // A pass that is rolled back counts nothing.
  auto assigned = Claim("w1");
  ASSERT_EQ(assigned.size(), 1u);
  ASSERT_OK(store_->Begin());
  ASSERT_OK(store_->Lose(assigned[0].attempt_id, Now(), "gone"));
  store_->Rollback();
  EXPECT_EQ(metrics_->Snapshot().leases_reclaimed, 0);
  Lose(assigned[0].attempt_id);
  auto v = metrics_->Snapshot();
  EXPECT_EQ(v.leases_reclaimed, 1);
  EXPECT_EQ(v.attempts["lost"], 1);
  ASSERT_EQ(v.losses.size(), 1u);
  EXPECT_EQ(v.losses[0].key, "b");
  EXPECT_EQ(v.wait_seconds["default"].count, 2u);  // first attempts only
  EXPECT_EQ(v.run_seconds["default"].count, 1u);   // done or error, not lost
}

TEST_F(HttpStoreTest, MetricsAndApiReadTheFileThroughTheReader) {
  ASSERT_OK(Submit({Task("a"), Task("b"), Task("c")}));
  Run("a");
  ASSERT_OK(Cancel({"c"}));
  std::string text;
  ASSERT_OK(RenderMetrics(*reader_, metrics_->Snapshot(), path_, Now(), &text));
  for (const char* line : {"# TYPE leaseq_tasks gauge", "leaseq_tasks{queue=\"default\",state=\"done\"} 1",
                           "leaseq_tasks{queue=\"default\",state=\"queued\"} 1",
                           "leaseq_tasks{queue=\"default\",state=\"cancelled\"} 1",
                           "leaseq_tasks_done_total 1", "leaseq_tasks_cancelled_total 1",
                           "leaseq_attempts_total{outcome=\"done\"} 1", "leaseq_workers{state=\"alive\"} 2",
                           "leaseq_task_run_seconds_bucket{queue=\"default\",le=\"0.1\"} 1",
                           "# TYPE leaseq_commit_duration_seconds histogram"}) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
  nlohmann::json j;
  ASSERT_OK(ApiStatus(*reader_, metrics_->Snapshot(), Now(), false, &j));
  EXPECT_EQ(j["counts"]["done"], 1);
  EXPECT_EQ(j["queues"][0]["counts"]["queued"], 1);
  ASSERT_OK(ApiWorkers(*reader_, metrics_->Snapshot(), 1, 1, &j));
  EXPECT_EQ(j["total"], 2);
  ASSERT_EQ(j["workers"].size(), 1u);
  EXPECT_EQ(j["workers"][0]["name"], "w2");
  ASSERT_OK(ApiTasks(*reader_, "done", "", 10, &j));
  ASSERT_EQ(j["tasks"].size(), 1u);
  EXPECT_EQ(j["tasks"][0]["key"], "a");
  ASSERT_OK(ApiTask(*reader_, "a", &j));
  EXPECT_EQ(j["attempts"][0]["outcome"], "done");
  EXPECT_EQ(ApiTask(*reader_, "nope", &j).code(), Status::Code::kNotFound);
  // The reader writes nothing: the file stays the broker's.
  bool changed = false;
  Status w = reader_->Pause("q", Now(), &changed);
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.message().find("read-only"), std::string::npos) << w.message();
}

TEST_F(HttpStoreTest, HealthSaysWhyNot) {
  auto steady = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  Status h = Health(*reader_, metrics_->Snapshot(), steady(), 5000);
  EXPECT_EQ(h.code(), Status::Code::kUnavailable);  // no commit seen yet
  ASSERT_OK(Submit({Task("a")}));
  EXPECT_TRUE(Health(*reader_, metrics_->Snapshot(), steady(), 5000).ok());
  EXPECT_FALSE(Health(*reader_, metrics_->Snapshot(), steady() + 6000, 5000).ok());  // a stuck loop
  metrics_->CommitFailed("database or disk is full", steady());
  h = Health(*reader_, metrics_->Snapshot(), steady(), 5000);
  EXPECT_FALSE(h.ok());
  EXPECT_NE(h.message().find("disk is full"), std::string::npos) << h.message();
}

}  // namespace
}  // namespace leaseq
