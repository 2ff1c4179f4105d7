// Worker names through the broker's loop (name_claim.h): a real Broker on a
// temp database and loopback, its clock driven by the test, and DEALER
// sockets that register as workers would.
#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "broker/broker_loop.h"
#include "common/config.h"
#include "common/transport.h"
#include "tools/testing/temp_dir.h"

namespace leaseq {
namespace {

using namespace std::chrono_literals;
using wire::Command;
using nlohmann::json;

// The broker reads the clock on its own thread: an atomic fake.
class ManualClock final : public Clock {
 public:
  int64_t WallMs() const override { return now_; }
  int64_t SteadyMs() const override { return now_; }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_{1'700'000'000'000};
};

const rules::Settings kSettings{1000, 3, 3};

class BrokerNamesTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBroker(); }
  void TearDown() override { StopBroker(); }
  void StartBroker() {
    BrokerOptions o;
    o.db_path = dir_.File("leaseq.db");
    o.bind = "tcp://127.0.0.1:*";
    o.settings = kSettings;
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

  // A connection of a worker process.
  std::unique_ptr<zmq::socket_t> Connect() {
    auto s = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->connect(endpoint_);
    return s;
  }
  // Sends a register and returns the broker's answer (heartbeats skipped);
  // an empty body after 3 s of nothing.
  wire::Message Register(zmq::socket_t& s, const std::string& session, int64_t pid,
                         const std::string& nanny = "") {
    json body = {{"name", "same"},   {"pid", pid},        {"session", session},
                 {"host", "host-" + session},              {"slots", 1},
                 {"queues", {"default"}}, {"fns", json::array()}, {"running", json::array()}};
    if (!nanny.empty()) body["nanny"] = nanny;
    EXPECT_TRUE(transport::Send(s, wire::Make(Command::kRegister, body)));
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 20ms);
      std::string unused;
      wire::Message m;
      Status decoded;
      while (transport::Receive(s, false, &unused, &m, &decoded)) {
        if (decoded.ok() && m.command != Command::kHeartbeat) return m;
      }
    }
    return wire::Message{};
  }
  static std::string Code(const wire::Message& m) {
    return m.command == Command::kError ? m.body.value("code", "") : "";
  }

  ManualClock clock_;
  test_support::TempDir dir_{"leaseq-broker-names"};
  std::string endpoint_;
  std::unique_ptr<BrokerLoop> broker_;
  int stop_fd_ = -1;
  std::thread thread_;
  zmq::context_t context_{1};
};

TEST_F(BrokerNamesTest, ALiveHoldersNameIsRefusedToAnotherSessionNamingItsPidAndHost) {
  auto a = Connect(), b = Connect();
  ASSERT_EQ(Register(*a, "a", 100).command, Command::kWelcome);
  wire::Message refused = Register(*b, "b", 200);
  EXPECT_EQ(Code(refused), "name_in_use") << refused.body.dump();
  EXPECT_EQ(refused.body.value("message", ""), "name 'same' is in use by pid 100 on host host-a");
  // Refused again, not taken on a second try.
  EXPECT_EQ(Code(Register(*b, "b", 200)), "name_in_use");
  // The holder is still the holder: its own session is welcome.
  EXPECT_EQ(Register(*a, "a", 100).command, Command::kWelcome);
}

TEST_F(BrokerNamesTest, TheHoldersSessionReconnectsOnANewConnection) {
  auto a = Connect(), again = Connect();
  ASSERT_EQ(Register(*a, "a", 100).command, Command::kWelcome);
  EXPECT_EQ(Register(*again, "a", 100).command, Command::kWelcome);
}

TEST_F(BrokerNamesTest, ASilentHoldersNameIsTaken) {
  auto a = Connect(), b = Connect();
  ASSERT_EQ(Register(*a, "a", 100).command, Command::kWelcome);
  clock_.Advance(rules::LeaseTtlMs(kSettings));
  EXPECT_EQ(Register(*b, "b", 200).command, Command::kWelcome);
  // The old process, back from a freeze, is now the other one.
  EXPECT_EQ(Code(Register(*a, "a", 100)), "name_in_use");
}

TEST_F(BrokerNamesTest, TheNextWorkerOfTheLiveHoldersNannyTakesTheName) {
  auto a = Connect(), b = Connect(), c = Connect();
  ASSERT_EQ(Register(*a, "n.1", 100, "n").command, Command::kWelcome);
  EXPECT_EQ(Code(Register(*c, "m.1", 300, "m")), "name_in_use");
  EXPECT_EQ(Register(*b, "n.2", 200, "n").command, Command::kWelcome);
  EXPECT_EQ(Code(Register(*a, "x", 100)), "name_in_use");
}

TEST_F(BrokerNamesTest, AfterARestartTheNameWaitsForItsHolderWhichThenKeepsIt) {
  auto a = Connect();
  ASSERT_EQ(Register(*a, "a", 100).command, Command::kWelcome);
  RestartBroker();
  auto b = Connect(), a2 = Connect();
  wire::Message wait = Register(*b, "b", 200);
  EXPECT_EQ(Code(wait), "name_reserved") << wait.body.dump();
  EXPECT_EQ(wait.body.value("message", "").rfind("name 'same' is in use by pid 100 on host host-a", 0), 0u);
  EXPECT_EQ(Register(*a2, "a", 100).command, Command::kWelcome);
  EXPECT_EQ(Code(Register(*b, "b", 200)), "name_in_use");
}

TEST_F(BrokerNamesTest, AfterARestartTheNameIsFreeOnceTheGraceEndsWithoutItsHolder) {
  auto a = Connect();
  ASSERT_EQ(Register(*a, "a", 100).command, Command::kWelcome);
  RestartBroker();
  auto b = Connect();
  EXPECT_EQ(Code(Register(*b, "b", 200)), "name_reserved");
  clock_.Advance(rules::StartupGraceMs(kSettings));
  wire::Message m;
  for (int i = 0; i < 50 && m.command != Command::kWelcome; ++i) m = Register(*b, "b", 200);
  EXPECT_EQ(m.command, Command::kWelcome) << m.body.dump();
}

TEST_F(BrokerNamesTest, AfterARestartTheHoldersNannyNeedNotWaitForTheGrace) {
  auto a = Connect();
  ASSERT_EQ(Register(*a, "n.1", 100, "n").command, Command::kWelcome);
  RestartBroker();
  auto b = Connect();
  EXPECT_EQ(Register(*b, "n.3", 200, "n").command, Command::kWelcome);
}

}  // namespace
}  // namespace leaseq
