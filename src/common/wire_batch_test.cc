#include "common/wire_batch.h"

#include <gtest/gtest.h>

#include <string>

namespace leaseq::wire {
namespace {

Message Result(int64_t attempt, std::string out) {
  return Make(Command::kResult,
              {{field::kAttempt, attempt}, {field::kExitCode, 0}, {field::kSignal, 0}, {field::kError, ""}},
              {std::move(out)});
}

// Through the codec, as a receiver gets it.
Message Wire(const Message& m) {
  Message out;
  Status s = Decode(Encode(m), &out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

TEST(WireBatch, ResultsRoundTripWithPositionalBlobs) {
  std::vector<Message> singles = {Result(1, "one"), Result(2, ""), Result(3, "three"), Result(4, "")};
  std::vector<PackedFrame> frames = Pack(singles);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].message.command, Command::kResults);
  EXPECT_EQ(frames[0].count, 4u);
  // The trailing empty blob is left out; the empty one between is kept.
  EXPECT_EQ(frames[0].message.blobs.size(), 3u);
  Message received = Wire(frames[0].message);
  ASSERT_TRUE(Validate(Role::kBroker, received.command, received.body).ok());
  std::vector<Message> items;
  ASSERT_TRUE(Unpack(received, &items).ok());
  ASSERT_EQ(items.size(), 4u);
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].command, Command::kResult);
    EXPECT_EQ(items[i].body, singles[i].body);
    EXPECT_TRUE(CheckBody(Command::kResult, items[i].body).ok());
  }
  EXPECT_EQ(items[0].blobs, std::vector<std::string>{"one"});
  EXPECT_EQ(items[1].blobs, std::vector<std::string>{""});
  EXPECT_EQ(items[2].blobs, std::vector<std::string>{"three"});
  EXPECT_TRUE(items[3].blobs.empty());  // no blob: empty output, as for a single result
}

TEST(WireBatch, OneItemStaysTheSingleForm) {
  std::vector<PackedFrame> frames = Pack({Result(7, "x")});
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].message.command, Command::kResult);
  EXPECT_EQ(frames[0].message.blobs, std::vector<std::string>{"x"});
}

TEST(WireBatch, FramesStayWithinTheBlobAndSizeLimits) {
  std::vector<Message> singles;
  for (int i = 0; i < 150; ++i) singles.push_back(Result(i, ""));
  std::vector<PackedFrame> frames = Pack(singles);
  ASSERT_EQ(frames.size(), 3u);  // 64 + 64 + 22
  EXPECT_EQ(frames[0].count, kMaxBatchItems);
  EXPECT_EQ(frames[2].first, 2 * kMaxBatchItems);
  for (const auto& f : frames) Wire(f.message);  // each decodes (<= 64 blobs)

  // A large output travels alone; the small ones after it are batched.
  std::vector<PackedFrame> big =
      Pack({Result(1, "a"), Result(2, std::string(kMaxBatchBlobBytes, 'x')), Result(3, "b"), Result(4, "c")});
  ASSERT_EQ(big.size(), 3u);
  EXPECT_EQ(big[0].message.command, Command::kResult);  // "a": the next one would pass the limit
  EXPECT_EQ(big[1].message.command, Command::kResult);
  EXPECT_EQ(big[1].first, 1u);
  EXPECT_EQ(big[2].message.command, Command::kResults);
  EXPECT_EQ(big[2].first, 2u);
  EXPECT_EQ(big[2].count, 2u);
}

TEST(WireBatch, MalformedBatchesGiveAClearErrorAndNoItems) {
  // Not a list: the declaration refuses it before Unpack.
  Status s = Validate(Role::kBroker, Command::kResults, {{field::kResults, 5}});
  EXPECT_EQ(s.message(), "results: field 'results' must be a list");
  s = Validate(Role::kBroker, Command::kResults, nlohmann::json::object());
  EXPECT_FALSE(s.ok());
  // A worker may not send tasks, nor the broker results.
  EXPECT_FALSE(Validate(Role::kBroker, Command::kTasks, {{field::kTasks, nlohmann::json::array()}}).ok());
  EXPECT_FALSE(Validate(Role::kWorker, Command::kResults, {{field::kResults, nlohmann::json::array()}}).ok());

  // More blobs than items: whose is which is unknown, so none is used.
  Message m = Make(Command::kResults, {{field::kResults, {Result(1, "").body}}}, {"a", "b"});
  std::vector<Message> items = {Result(9, "")};
  s = Unpack(m, &items);
  EXPECT_EQ(s.message(), "results: 2 blobs for 1 item(s): at most one each");
  EXPECT_TRUE(items.empty());

  // A bad item is handed on as it is: the receiver's check of the single
  // command names it, and the other items stay usable.
  m = Make(Command::kResults, {{field::kResults, {Result(1, "").body, {{field::kAttempt, "x"}}, 3}}});
  ASSERT_TRUE(Unpack(m, &items).ok());
  ASSERT_EQ(items.size(), 3u);
  EXPECT_TRUE(CheckBody(Command::kResult, items[0].body).ok());
  EXPECT_EQ(CheckBody(Command::kResult, items[1].body).message(),
            "result: field 'attempt' must be an integer");
  EXPECT_EQ(CheckBody(Command::kResult, items[2].body).message(),
            "result: the body is not a JSON object");
}

}  // namespace
}  // namespace leaseq::wire
