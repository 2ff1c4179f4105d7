#include "worker/function_pool.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <future>
#include <map>
#include <stdexcept>
#include <thread>

#include "common/config.h"

namespace leaseq::worker {
namespace {

using namespace std::chrono_literals;
using Outcomes = std::vector<std::pair<int64_t, FnOutcome>>;

std::shared_ptr<const Fn> MakeFn(Fn f) { return std::make_shared<const Fn>(std::move(f)); }

// What a worker loop does: poll the fd, then take, until n outcomes came.
Outcomes Collect(FunctionPool& pool, size_t n, std::chrono::milliseconds limit = 5s) {
  Outcomes all;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (all.size() < n && std::chrono::steady_clock::now() < deadline) {
    pollfd p{pool.notify_fd(), POLLIN, 0};
    poll(&p, 1, 20);
    for (auto& o : pool.TakeFinished()) all.push_back(std::move(o));
  }
  return all;
}

// A gate a test opens; shared, so that a call that outlives the test is safe.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
};

class FunctionPoolTest : public testing::Test {
 protected:
  void SetUp() override {
    // Calls abandoned by an earlier test of this process may still run.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (FunctionPool::CallsInProgress() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(FunctionPool::CallsInProgress(), 0);
    ASSERT_TRUE(FunctionPool::Create(&pool_).ok());
  }
  std::unique_ptr<FunctionPool> pool_;
};

TEST_F(FunctionPoolTest, ACallsOutcomeComesBackThroughTheFd) {
  auto call = pool_->Start(7, "rev", MakeFn([](std::string_view in, std::string* out) {
                             out->assign(in.rbegin(), in.rend());
                             return FnStatus::Ok();
                           }),
                           "abc");
  Outcomes o = Collect(*pool_, 1);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].first, 7);
  EXPECT_TRUE(o[0].second.ok);
  EXPECT_EQ(o[0].second.output, "cba");
  EXPECT_EQ(o[0].second.error, "");
  EXPECT_TRUE(pool_->TakeFinished().empty());
}

TEST_F(FunctionPoolTest, CallsRunAtOnceOnThreadsOfTheirOwn) {
  // Each call waits until all three have started: only concurrent calls end.
  auto started = std::make_shared<std::atomic<int>>(0);
  auto fn = MakeFn([started](std::string_view, std::string* out) {
    ++*started;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (*started < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    *out = std::to_string(started->load());
    return FnStatus::Ok();
  });
  std::vector<std::unique_ptr<FunctionPool::Call>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(pool_->Start(i, "wait3", fn, ""));
  Outcomes o = Collect(*pool_, 3);
  ASSERT_EQ(o.size(), 3u);
  for (const auto& [id, out] : o) EXPECT_EQ(out.output, "3") << id;
  EXPECT_EQ(pool_->thread_count(), 3u);
  // Threads are kept: three more calls make none.
  for (int i = 3; i < 6; ++i) calls.push_back(pool_->Start(i, "wait3", MakeFn(Fn([](std::string_view, std::string*) { return FnStatus::Ok(); })), ""));
  EXPECT_EQ(Collect(*pool_, 3).size(), 3u);
  EXPECT_EQ(pool_->thread_count(), 3u);
}

TEST_F(FunctionPoolTest, ErrorsExceptionsAndOversizedOutputFailTheCall) {
  auto c1 = pool_->Start(1, "bad", MakeFn([](std::string_view, std::string* out) {
                           *out = "partial";
                           return FnStatus::Error("bad input");
                         }),
                         "");
  auto c2 = pool_->Start(2, "thrower", MakeFn([](std::string_view, std::string*) -> FnStatus {
                           throw std::runtime_error("boom");
                         }),
                         "");
  auto c3 = pool_->Start(3, "odd", MakeFn([](std::string_view, std::string*) -> FnStatus { throw 42; }), "");
  auto c4 = pool_->Start(4, "mute", MakeFn([](std::string_view, std::string*) {
                           return FnStatus::Error("");
                         }),
                         "");
  auto c5 = pool_->Start(5, "huge", MakeFn([](std::string_view, std::string* out) {
                           out->assign(static_cast<size_t>(config::kMaxResultBytes) + 1, 'x');
                           return FnStatus::Ok();
                         }),
                         "");
  Outcomes o = Collect(*pool_, 5);
  ASSERT_EQ(o.size(), 5u);
  std::map<int64_t, FnOutcome> by_id;
  for (auto& [id, out] : o) by_id[id] = std::move(out);
  for (auto& [id, out] : by_id) {
    EXPECT_FALSE(out.ok) << id;
    EXPECT_EQ(out.output, "") << id;  // a failed attempt has no result
  }
  EXPECT_EQ(by_id[1].error, "bad input");
  EXPECT_EQ(by_id[2].error, "fn 'thrower' threw an exception: boom");
  EXPECT_EQ(by_id[3].error, "fn 'odd' threw an exception");
  EXPECT_EQ(by_id[4].error, "fn 'mute' failed (it gave no message)");
  EXPECT_NE(by_id[5].error.find("result too large: fn 'huge'"), std::string::npos) << by_id[5].error;
}

TEST_F(FunctionPoolTest, AnAbandonedCallRunsOnButItsOutcomeIsDroppedAndDoesNotBlockOthers) {
  auto gate = std::make_shared<Gate>();
  auto stuck = pool_->Start(1, "stuck", MakeFn([gate](std::string_view, std::string* out) {
                              gate->opened.wait();
                              *out = "late";
                              return FnStatus::Ok();
                            }),
                            "");
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(FunctionPool::CallsInProgress(), 1);
  stuck.reset();  // abandoned (an abort): it cannot be stopped
  auto next = pool_->Start(2, "echo", MakeFn([](std::string_view in, std::string* out) {
                             out->assign(in);
                             return FnStatus::Ok();
                           }),
                           "next");
  Outcomes o = Collect(*pool_, 1);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].first, 2);
  EXPECT_EQ(o[0].second.output, "next");
  EXPECT_EQ(pool_->thread_count(), 2u);  // a thread more: the stuck one is busy
  gate->open.set_value();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (FunctionPool::CallsInProgress() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(FunctionPool::CallsInProgress(), 0);
  EXPECT_TRUE(Collect(*pool_, 1, 200ms).empty());  // "late" never comes back
}

TEST_F(FunctionPoolTest, DestroyingThePoolDetachesABusyThreadWhichEndsLater) {
  auto gate = std::make_shared<Gate>();
  auto call = pool_->Start(1, "stuck", MakeFn([gate](std::string_view, std::string*) {
                             gate->opened.wait();
                             return FnStatus::Ok();
                           }),
                           "");
  auto idle = pool_->Start(2, "quick", MakeFn([](std::string_view, std::string*) { return FnStatus::Ok(); }), "");
  ASSERT_EQ(Collect(*pool_, 1).size(), 1u);
  call.reset();
  idle.reset();
  pool_.reset();  // returns at once: the idle thread is joined, the busy one detached
  EXPECT_EQ(FunctionPool::CallsInProgress(), 1);
  gate->open.set_value();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (FunctionPool::CallsInProgress() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(FunctionPool::CallsInProgress(), 0);
}

TEST_F(FunctionPoolTest, PoolThreadsBlockTheStopSignals) {
  auto call = pool_->Start(1, "mask", MakeFn([](std::string_view, std::string* out) {
                             sigset_t set;
                             pthread_sigmask(SIG_BLOCK, nullptr, &set);
                             for (int sig : {SIGTERM, SIGINT, SIGCHLD}) {
                               out->push_back(sigismember(&set, sig) == 1 ? 'b' : '-');
                             }
                             return FnStatus::Ok();
                           }),
                           "");
  Outcomes o = Collect(*pool_, 1);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].second.output, "bbb");
}

}  // namespace
}  // namespace leaseq::worker
