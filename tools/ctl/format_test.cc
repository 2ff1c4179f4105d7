#include "tools/ctl/format.h"

#include <gtest/gtest.h>

namespace leaseq::tools {
namespace {

TEST(CtlFormat, StatusListsEveryStateInOrderThenWorkers) {
  std::string out;
  auto body = nlohmann::json::parse(R"({"id": 7, "counts": {"queued": 12, "done": 3},
      "workers": {"alive": 4, "lost": 1, "gone": 2}})");
  ASSERT_TRUE(FormatStatus(body, &out).ok());
  EXPECT_EQ(out,
            "waiting    0\n"
            "queued     12\n"
            "running    0\n"
            "done       3\n"
            "failed     0\n"
            "cancelled  0\n"
            "workers    alive 4, lost 1, gone 2\n");
}

TEST(CtlFormat, StatusShowsTheDelayedTasksUnderQueued) {
  std::string out;
  auto body = nlohmann::json::parse(R"({"counts": {"queued": 12}, "delayed": 5,
      "workers": {"alive": 1}})");
  ASSERT_TRUE(FormatStatus(body, &out).ok());
  EXPECT_EQ(out,
            "waiting    0\n"
            "queued     12\n"
            "  delayed  5\n"
            "running    0\n"
            "done       0\n"
            "failed     0\n"
            "cancelled  0\n"
            "workers    alive 1, lost 0, gone 0\n");
}

TEST(CtlFormat, StatusWithoutCountsIsABadReply) {
  std::string out;
  EXPECT_FALSE(FormatStatus(nlohmann::json{{"workers", nlohmann::json::object()}}, &out).ok());
  EXPECT_FALSE(FormatStatus(nlohmann::json{{"counts", nlohmann::json::object()}}, &out).ok());
}

TEST(CtlFormat, WorkersTableIsAligned) {
  std::string out;
  auto body = nlohmann::json::parse(R"({"workers": [
      {"name": "w1", "pid": 123, "host": "h", "state": "alive", "slots": 1, "running": 1},
      {"name": "worker-long", "pid": 7, "host": "host2", "state": "lost", "slots": 4,
       "running": [5, 6]}]})");
  ASSERT_TRUE(FormatWorkers(body, &out).ok());
  EXPECT_EQ(out,
            "NAME         PID  HOST   STATE  SLOTS  RUNNING\n"
            "w1           123  h      alive  1      1\n"
            "worker-long  7    host2  lost   4      2\n");
}

TEST(CtlFormat, ShowDropsTheRequestId) {
  auto body = nlohmann::json::parse(R"({"id": 1, "task": {"key": "k"}, "attempts": []})");
  EXPECT_EQ(FormatShow(body), "{\n  \"attempts\": [],\n  \"task\": {\n    \"key\": \"k\"\n  }\n}\n");
}

}  // namespace
}  // namespace leaseq::tools
