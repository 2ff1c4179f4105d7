// Worker names through the broker's loop (name_claim.h): a real Broker on a
// temp database and loopback, its clock driven by the test, and DEALER
// sockets that register as workers would.
#include <gtest/gtest.h>

#include "broker/broker_loop_fixture.h"
#include "common/config.h"

namespace leaseq {
namespace {

using wire::Command;
using nlohmann::json;

const rules::Settings kSettings = test_support::kLoopSettings;

class BrokerNamesTest : public test_support::BrokerLoopFixture {
 protected:
  BrokerNamesTest() : BrokerLoopFixture("leaseq-broker-names") {}
  // Sends a register and returns the broker's answer (heartbeats skipped);
  // an empty body after 3 s of nothing.
  wire::Message Register(zmq::socket_t& s, const std::string& session, int64_t pid,
                         const std::string& nanny = "") {
    json body = {{"name", "same"},   {"pid", pid},        {"session", session},
                 {"host", "host-" + session},              {"slots", 1},
                 {"queues", {"default"}}, {"fns", json::array()}, {"running", json::array()}};
    if (!nanny.empty()) body["nanny"] = nanny;
    return Ask(s, wire::Make(Command::kRegister, body));
  }
  static std::string Code(const wire::Message& m) {
    return m.command == Command::kError ? m.body.value("code", "") : "";
  }
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
