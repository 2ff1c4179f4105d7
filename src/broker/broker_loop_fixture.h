// A test fixture: a real BrokerLoop on a temp database and loopback, on its
// own thread, its clock driven by the test, and DEALER sockets that speak
// for workers and clients. Used by broker_names_test.cc and
// broker_batch_test.cc. The fixture's methods run on the test's thread.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "broker/broker_loop.h"
#include "common/transport.h"
#include "tools/testing/temp_dir.h"

namespace leaseq::test_support {

// The broker reads the clock on its own thread: an atomic fake.
class ManualClock final : public Clock {
 public:
  int64_t WallMs() const override { return now_; }
  int64_t SteadyMs() const override { return now_; }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_{1'700'000'000'000};
};

inline const rules::Settings kLoopSettings{1000, 3, 3};

class BrokerLoopFixture : public ::testing::Test {
 protected:
  explicit BrokerLoopFixture(const std::string& dir_name) : dir_(dir_name) {}
  void SetUp() override { StartBroker(); }
  void TearDown() override { StopBroker(); }
  void StartBroker() {
    BrokerOptions o;
    o.db_path = dir_.File("leaseq.db");
    o.bind = "tcp://127.0.0.1:*";
    o.settings = kLoopSettings;
    Status s = BrokerLoop::Create(o, &clock_, &broker_);
    ASSERT_TRUE(s.ok()) << s.message();
    endpoint_ = broker_->endpoint();
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { EXPECT_TRUE(broker_->Run(stop_fd_).ok()); });
  }
  void StopBroker() {
    if (broker_ == nullptr) return;
    eventfd_write(stop_fd_, 1);
    thread_.join();
    broker_.reset();
    close(stop_fd_);
  }
  void RestartBroker() {
    StopBroker();
    StartBroker();
  }

  // A connection of a worker process (or a client).
  std::unique_ptr<zmq::socket_t> Connect() {
    auto s = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->connect(endpoint_);
    return s;
  }
  // The broker's next message on s other than a heartbeat; an empty body
  // (command kError) after 3 s of nothing.
  static wire::Message Next(zmq::socket_t& s) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 20ms);
      std::string unused;
      wire::Message m;
      Status decoded;
      while (transport::Receive(s, false, &unused, &m, &decoded)) {
        if (decoded.ok() && m.command != wire::Command::kHeartbeat) return m;
      }
    }
    return wire::Message{};
  }
  // Sends m and returns the broker's answer (heartbeats skipped).
  static wire::Message Ask(zmq::socket_t& s, const wire::Message& m) {
    EXPECT_TRUE(transport::Send(s, m));
    return Next(s);
  }

  ManualClock clock_;
  TempDir dir_;
  std::string endpoint_;
  std::unique_ptr<BrokerLoop> broker_;
  int stop_fd_ = -1;
  std::thread thread_;
  zmq::context_t context_{1};
};

}  // namespace leaseq::test_support
