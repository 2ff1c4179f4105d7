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
      {"name": "w1", "pid": 123, "host": "h", "state": "alive", "slots": 1, "running": 1,
       "prefetched": 2, "queues": ["default", "gpu"], "fns": ["echo", "noop"]},
      {"name": "worker-long", "pid": 7, "host": "host2", "state": "lost", "slots": 4,
       "running": [5, 6], "queues": [], "fns": []}]})");
  ASSERT_TRUE(FormatWorkers(body, &out).ok());
  EXPECT_EQ(out,
            "NAME         PID  HOST   STATE  SLOTS  RUNNING  PREFETCHED  QUEUES       FUNCTIONS\n"
            "w1           123  h      alive  1      1        2           default,gpu  echo,noop\n"
            "worker-long  7    host2  lost   4      2        -           -            -\n");
}

TEST(CtlFormat, StatusAddsPausedQueuesTheQueueTableAndWhatNoWorkerServes) {
  std::string out;
  auto body = nlohmann::json::parse(R"({"counts": {"queued": 7, "done": 3},
      "workers": {"alive": 1, "lost": 0, "gone": 0}, "paused": ["gpu"],
      "queues": {"default": {"counts": {"queued": 2, "done": 3}, "paused": false,
                             "oldest_queued_age_ms": 185000},
                 "gpu": {"counts": {"queued": 5}, "paused": true, "oldest_queued_age_ms": 7260000}},
      "unservable": [{"queue": "gpu", "fn": null, "queued": 5, "reason": "no live worker serves queue gpu"},
                     {"queue": "default", "fn": "resize", "queued": 2, "reason": "..."}]})");
  ASSERT_TRUE(FormatStatus(body, &out).ok());
  EXPECT_EQ(out,
            "waiting    0\n"
            "queued     7\n"
            "running    0\n"
            "done       3\n"
            "failed     0\n"
            "cancelled  0\n"
            "workers    alive 1, lost 0, gone 0\n"
            "paused     gpu\n"
            "\n"
            "QUEUE    STATE   WAITING  QUEUED  RUNNING  DONE  FAILED  CANCELLED  OLDEST QUEUED\n"
            "default  active  0        2       0        3     0       0          3m05s\n"
            "gpu      paused  0        5       0        0     0       0          2h01m\n"
            "\n"
            "queue gpu: 5 queued, no live worker serves it\n"
            "queue default: 2 queued for function 'resize', which no live worker of the queue has\n");
}

TEST(CtlFormat, ListIsATableWithTheFirstLineOfTheErrorOrWhyItWaits) {
  std::string out;
  auto body = nlohmann::json::parse(R"({"total": 3, "tasks": [
      {"key": "w1", "state": "failed", "queue": "default", "attempts": 3, "age_ms": 302000,
       "error": "exit status 3: boom"},
      {"key": "g", "state": "queued", "queue": "gpu", "attempts": 0, "age_ms": 1000, "error": "",
       "unservable": "no live worker serves queue gpu"},
      {"key": "p", "state": "queued", "queue": "batch", "attempts": 0, "age_ms": 0, "error": "",
       "paused": true}]})");
  ASSERT_TRUE(FormatList(body, &out).ok());
  EXPECT_EQ(out,
            "KEY  STATE   QUEUE    ATTEMPTS  AGE    ERROR\n"
            "w1   failed  default  3         5m02s  exit status 3: boom\n"
            "g    queued  gpu      0         1s     not served: no live worker serves queue gpu\n"
            "p    queued  batch    0         0s     queue paused\n");
  ASSERT_TRUE(FormatListJson(body, &out).ok());
  EXPECT_EQ(out.substr(0, out.find('\n')),
            R"({"age_ms":302000,"attempts":3,"error":"exit status 3: boom","key":"w1","queue":"default","state":"failed"})");
  EXPECT_FALSE(FormatList(nlohmann::json::object(), &out).ok());
}

TEST(CtlFormat, ShowDropsTheRequestId) {
  auto body = nlohmann::json::parse(R"({"id": 1, "task": {"key": "k"}, "attempts": []})");
  EXPECT_EQ(FormatShow(body), "{\n  \"attempts\": [],\n  \"task\": {\n    \"key\": \"k\"\n  }\n}\n");
}

}  // namespace
}  // namespace leaseq::tools
