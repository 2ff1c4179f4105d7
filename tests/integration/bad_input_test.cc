// Bad input gets a clear error and loses nothing.
#include <gtest/gtest.h>

#include "harness.h"

namespace leaseq::testing {
namespace {

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { cluster.StartBroker(); }
  Cluster cluster;
};

TEST_F(BadInput, MalformedJsonNamesTheLineAndStoresNothing) {
  auto r = cluster.Submit({"--file", "-"},
                          "{\"key\": \"a\", \"cmd\": [\"true\"]}\n{\"key\": \"b\", \"cmd\": [\"true\"\n");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(":2:"), std::string::npos) << r.err;
  EXPECT_EQ(cluster.CountState("queued"), 0);
}

TEST_F(BadInput, MissingCmdAndUnknownFieldAreRefused) {
  auto r = cluster.Submit({"--file", "-"}, "{\"key\": \"a\", \"input\": \"x\"}\n");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cmd"), std::string::npos) << r.err;
  r = cluster.Submit({"--file", "-"}, "{\"cmd\": [\"true\"], \"priorty\": 3}\n");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("priorty"), std::string::npos) << r.err;
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), 0);
}

TEST_F(BadInput, UnknownAfterKeyRefusesTheWholeFile) {
  auto r = cluster.Submit({"--file", "-"},
                          "{\"key\": \"a\", \"cmd\": [\"true\"]}\n"
                          "{\"key\": \"b\", \"cmd\": [\"true\"], \"after\": [\"nope\"]}\n");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":2:"), std::string::npos) << r.err;
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), 0);
}

TEST_F(BadInput, ResubmitSameFieldsIsANoOpDifferentFieldsAnError) {
  auto r = cluster.Submit({"--key", "k", "--", "echo", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "k\n");
  r = cluster.Submit({"--key", "k", "--", "echo", "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "k\n");
  r = cluster.Submit({"--key", "k", "--", "echo", "bye"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("k"), std::string::npos);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM tasks"), 1);
  EXPECT_EQ(Query(cluster.db(), "SELECT cmd FROM tasks WHERE key = 'k'"), "[\"echo\",\"hi\"]");
}

TEST(Unreachable, ClientsFailClearlyWhenNoBrokerAnswers) {
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(FreePort());
  auto r = RunCommand(BinDir() + "/leaseq-ctl", {"--broker", ep, "status"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(ep), std::string::npos) << r.err;
  r = RunCommand(BinDir() + "/leaseq-submit", {"--broker", ep, "--", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("broker"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace leaseq::testing
