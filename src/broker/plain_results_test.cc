// The reader of plain `results` bodies (plain_results.h): what it accepts
// it reads as the json path would; everything else it leaves to that path.
#include "broker/plain_results.h"

#include <gtest/gtest.h>

#include <random>
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
      R"({"results":[{"attempt":123456789012345678901234567890,"exit_code":0}]})",  // 30
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

// What the json path makes of a body (Broker::OnResults before this
// reader): the frame checked and unpacked, each item checked and read.
bool ReadByJson(const std::string& body, std::vector<std::string> blobs, std::vector<AttemptResult>* out) {
  wire::Message m;
  m.command = Command::kResults;
  if (!wire::ParseBody(Command::kResults, body, &m.body).ok()) return false;
  if (!wire::CheckBody(Command::kResults, m.body).ok()) return false;
  m.blobs = std::move(blobs);
  std::vector<wire::Message> items;
  if (!wire::Unpack(std::move(m), &items).ok()) return false;
  out->clear();
  for (auto& item : items) {
    if (!wire::CheckBody(Command::kResult, item.body).ok()) return false;
    AttemptResult r;
    int64_t exit_code = 0, signal = 0;
    if (!wire::GetInt(item.body, field::kAttempt, &r.attempt_id).ok()) return false;
    if (!wire::GetInt(item.body, field::kExitCode, &exit_code).ok()) return false;
    if (item.body.contains(field::kSignal) && !wire::GetInt(item.body, field::kSignal, &signal).ok()) return false;
    if (item.body.contains(field::kError) && !wire::GetString(item.body, field::kError, &r.error).ok()) return false;
    if (item.body.contains(field::kPermanent)) r.permanent = item.body[field::kPermanent].get<bool>();
    r.exit_code = static_cast<int>(exit_code);
    r.signal = static_cast<int>(signal);
    if (!item.blobs.empty()) r.stdout_bytes = item.blobs[0];
    out->push_back(std::move(r));
  }
  return true;
}

// Bodies near the plain shape, mutated at random: whatever the reader
// accepts, the json path accepts with the same results.
TEST(PlainResults, WhatItAcceptsTheJsonPathReadsTheSame) {
  const std::string base =
      R"({"results":[{"attempt":12,"error":"","exit_code":0,"signal":0},)"
      R"({"attempt":13,"error":"exit 1","exit_code":1,"permanent":true,"signal":0}]})";
  const std::string alphabet = "{}[]:,\"\\ -0123456789aeiltrsx\x01\xc3\x7f";
  std::mt19937 rng(20261130);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string body = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: body[at] = c; break;
        case 1: body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        default: body.erase(at, 1);
      }
    }
    std::vector<std::string> blobs;
    for (unsigned b = rng() % 4; b > 0; --b) blobs.push_back("b" + std::to_string(b));
    std::vector<AttemptResult> plain, json;
    if (!Read(body, blobs, &plain)) continue;
    ++accepted;
    ASSERT_TRUE(ReadByJson(body, blobs, &json)) << body;
    ASSERT_EQ(plain.size(), json.size()) << body;
    for (size_t i = 0; i < plain.size(); ++i) {
      EXPECT_EQ(plain[i].attempt_id, json[i].attempt_id) << body;
      EXPECT_EQ(plain[i].exit_code, json[i].exit_code) << body;
      EXPECT_EQ(plain[i].signal, json[i].signal) << body;
      EXPECT_EQ(plain[i].error, json[i].error) << body;
      EXPECT_EQ(plain[i].permanent, json[i].permanent) << body;
      EXPECT_EQ(plain[i].stdout_bytes, json[i].stdout_bytes) << body;
    }
  }
  EXPECT_GT(accepted, 100);  // the mutations do reach the reader's accepting side
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
