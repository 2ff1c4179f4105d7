#include "common/protocol.h"

#include <gtest/gtest.h>

namespace leaseq::wire {
namespace {

TEST(Protocol, RoundTripKeepsCommandBodyAndBlobs) {
  Message m = Make(Command::kTask, {{"attempt", 7}, {"key", "k"}}, {std::string("a\0b", 3)});
  Message back;
  ASSERT_TRUE(Decode(Encode(m), &back).ok());
  EXPECT_EQ(back.command, Command::kTask);
  EXPECT_EQ(back.body["attempt"], 7);
  EXPECT_EQ(back.body["key"], "k");
  ASSERT_EQ(back.blobs.size(), 1u);
  EXPECT_EQ(back.blobs[0], std::string("a\0b", 3));
}

TEST(Protocol, EveryCommandNameRoundTrips) {
  for (int i = 0; i <= static_cast<int>(Command::kError); ++i) {
    auto c = static_cast<Command>(i);
    auto name = CommandName(c);
    ASSERT_NE(name, "?");
    EXPECT_EQ(CommandFromName(name), c);
  }
}

TEST(Protocol, MalformedInputIsAnErrorNotACrash) {
  Message out;
  EXPECT_FALSE(Decode({}, &out).ok());
  EXPECT_FALSE(Decode({"LEASEQ1", "register"}, &out).ok());
  EXPECT_FALSE(Decode({"HTTP/1.1", "register", "{}"}, &out).ok());
  EXPECT_FALSE(Decode({"LEASEQ1", "frobnicate", "{}"}, &out).ok());
  EXPECT_FALSE(Decode({"LEASEQ1", "register", "{not json"}, &out).ok());
  EXPECT_FALSE(Decode({"LEASEQ1", "register", "[1,2]"}, &out).ok());
  EXPECT_FALSE(Decode({"LEASEQ1", "register", std::string("\xff\xfe", 2)}, &out).ok());
  std::vector<std::string> many(3 + kMaxBlobs + 1, "x");
  many[0] = "LEASEQ1";
  many[1] = "ack";
  many[2] = "{}";
  EXPECT_FALSE(Decode(many, &out).ok());
}

TEST(Protocol, InvalidUtf8InBodyIsReplacedNotThrown) {
  Message m = Make(Command::kResult, {{"error", std::string("bad \xff byte")}});
  Message back;
  ASSERT_TRUE(Decode(Encode(m), &back).ok());
  EXPECT_TRUE(back.body["error"].is_string());
}

TEST(Protocol, TypedFieldReadsReportTheField) {
  nlohmann::json body = {{"n", "x"}, {"l", {1, 2}}, {"s", {"a", 3}}};
  int64_t n = 0;
  Status s = GetInt(body, "n", &n);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'n'"), std::string::npos);
  std::vector<int64_t> l;
  EXPECT_TRUE(GetIntList(body, "l", &l).ok());
  EXPECT_EQ(l.size(), 2u);
  std::vector<std::string> strs;
  EXPECT_FALSE(GetStringList(body, "s", &strs).ok());
  EXPECT_TRUE(GetStringList(body, "absent", &strs).ok());
}

}  // namespace
}  // namespace leaseq::wire
