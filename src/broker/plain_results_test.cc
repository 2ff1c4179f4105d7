// The reader of plain `results` bodies (plain_results.h): what it accepts
// it reads as the json path would; everything else it leaves to that path.
#include "broker/plain_results.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/wire_batch.h"

namespace leaseq {
namespace {

using wire::Command;
namespace field = wire::field;

// A result as leaseq-worker sends it (worker_messages.cc).
wire::Message WorkerResult(int64_t attempt, int exit_code, int signal, const std::string& error,
                           std::string out, bool permanent = false) {
  nlohmann::json body = {{field::kAttempt, attempt},
                         {field::kExitCode, exit_code},
                         {field::kSignal, signal},
                         {field::kError, error}};
  if (permanent) body[field::kPermanent] = true;
  return wire::Make(Command::kResult, std::move(body), {std::move(out)});
}

// The frame as the broker's port decodes it: body kept as text.
wire::Message AtBroker(const wire::Message& sent) {
  wire::Message m;
  Status s = wire::DecodeResultsAsText(wire::Encode(sent), &m);
  EXPECT_TRUE(s.ok()) << s.message();
  return m;
}

bool Read(std::string body, std::vector<std::string> blobs, std::vector<AttemptResult>* out) {
  return ReadPlainResults(body, &blobs, out);
}

TEST(PlainResults, ReadsWhatTheWorkerSends) {
  std::vector<wire::Message> singles = {WorkerResult(11, 0, 0, "", "out 1"),
                                        WorkerResult(12, 3, 0, "exit status 3: see stderr", ""),
                                        WorkerResult(13, -1, 9, "killed by signal 9", "partial"),
                                        WorkerResult(14, 127, 0, "cannot start: no such file", "", true),
                                        WorkerResult(15, 0, 0, "", "")};
  std::vector<wire::PackedFrame> frames = wire::Pack(singles);
  ASSERT_EQ(frames.size(), 1u);
  wire::Message m = AtBroker(frames[0].message);
  ASSERT_EQ(m.command, Command::kResults);
  ASSERT_FALSE(m.body_text.empty());
  std::vector<AttemptResult> r;
  ASSERT_TRUE(ReadPlainResults(m.body_text, &m.blobs, &r)) << m.body_text;
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].attempt_id, 11);
  EXPECT_TRUE(r[0].Succeeded());
  EXPECT_EQ(r[0].stdout_bytes, "out 1");
  EXPECT_EQ(r[1].exit_code, 3);
  EXPECT_EQ(r[1].error, "exit status 3: see stderr");
  EXPECT_FALSE(r[1].Succeeded());
  EXPECT_EQ(r[2].exit_code, -1);
  EXPECT_EQ(r[2].signal, 9);
  EXPECT_EQ(r[2].stdout_bytes, "partial");
  EXPECT_TRUE(r[3].permanent);
  EXPECT_EQ(r[3].exit_code, 127);
  EXPECT_EQ(r[4].attempt_id, 15);
  EXPECT_EQ(r[4].stdout_bytes, "");  // trailing empty blobs are left out of the frame
}

TEST(PlainResults, TheOptionalFieldsMayBeLeftOutAndComeInAnyOrder) {
  std::vector<AttemptResult> r;
  ASSERT_TRUE(Read(R"({"results":[{"exit_code":0,"attempt":7},{"permanent":false,"attempt":8,"exit_code":1}]})",
                   {"a"}, &r));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].attempt_id, 7);
  EXPECT_TRUE(r[0].Succeeded());
  EXPECT_EQ(r[0].stdout_bytes, "a");
  EXPECT_EQ(r[1].exit_code, 1);
  EXPECT_FALSE(r[1].permanent);
  ASSERT_TRUE(Read(R"({"results":[]})", {}, &r));
  EXPECT_TRUE(r.empty());
}

TEST(PlainResults, AnythingElseIsLeftToTheJsonPath) {
  const std::string refused[] = {
      R"({ "results":[{"attempt":1,"exit_code":0}]})",                 // whitespace
      R"({"results":[{"attempt":1,"exit_code":0,"error":"a\"b"}]})",    // an escape
      R"({"results":[{"attempt":1,"exit_code":0,"error":"caf)" "\xc3\xa9" R"("}]})",  // not ASCII
      R"({"results":[{"attempt":1,"exit_code":0,"extra":1}]})",         // unknown field
      R"({"results":[{"attempt":1,"attempt":2,"exit_code":0}]})",       // twice
      R"({"results":[{"attempt":1}]})",                                 // no exit_code
      R"({"results":[{"exit_code":0}]})",                               // no attempt
      R"({"results":[{}]})",
      R"({"results":[{"attempt":1.5,"exit_code":0}]})",                 // not an integer
      R"({"results":[{"attempt":1e3,"exit_code":0}]})",
      R"({"results":[{"attempt":"1","exit_code":0}]})",
      R"({"results":[{"attempt":1234567890123456789,"exit_code":0}]})", // 19 digits
      R"({"results":[{"attempt":01,"exit_code":0}]})",                  // leading zero
      R"({"results":[{"attempt":-0,"exit_code":0}]})",
      R"({"results":[{"attempt":1,"exit_code":0,"permanent":1}]})",
      R"({"results":[{"attempt":1,"exit_code":0,"error":null}]})",
      R"({"results":[{"attempt":1,"exit_code":0}]}x)",                  // trailing bytes
      R"({"results":[{"attempt":1,"exit_code":0}])",                    // cut short
      R"({"results":[{"attempt":1,"exit_code":0},]})",
      R"({"results":[1]})",
      R"({"results":{}})",
      R"({"other":[],"results":[]})",
      R"([])",
      R"()"};
  for (const std::string& body : refused) {
    std::vector<AttemptResult> r;
    EXPECT_FALSE(Read(body, {}, &r)) << body;
  }
  // More blobs than items: whose is whose is unknown.
  std::vector<AttemptResult> r;
  EXPECT_FALSE(Read(R"({"results":[{"attempt":1,"exit_code":0}]})", {"a", "b"}, &r));
}

TEST(PlainResults, OnlyTheBrokersDecodeKeepsTheText) {
  wire::Message sent = wire::Pack({WorkerResult(1, 0, 0, "", "x"), WorkerResult(2, 0, 0, "", "y")})[0].message;
  wire::Message plain;
  ASSERT_TRUE(wire::Decode(wire::Encode(sent), &plain).ok());
  EXPECT_TRUE(plain.body_text.empty());
  EXPECT_TRUE(plain.body.contains(field::kResults));
  // A malformed body: ParseBody gives Decode's own error.
  nlohmann::json body;
  Status s = wire::ParseBody(Command::kResults, "{not json", &body);
  EXPECT_EQ(s.message(), "malformed body of 'results': not a JSON object");
  std::vector<std::string> frames = wire::Encode(sent);
  frames[2] = "{not json";
  EXPECT_EQ(wire::Decode(std::vector<std::string>(frames), &plain).message(), s.message());
}

}  // namespace
}  // namespace leaseq
