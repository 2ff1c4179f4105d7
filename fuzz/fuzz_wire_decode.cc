// Fuzz target: the wire codec (src/common/protocol.{h,cc}) and the checks of
// the message declarations (wire_messages.{def,h,cc}), fed what a peer can
// put on a socket.
//
// Input: the frames of one message (no routing id), separated by NUL bytes:
//   LEASEQ1 \0 submit \0 {"id":1,"tasks":[...]} \0 blob0 \0 blob1 ...
// (a NUL cannot occur in a header, a command name or JSON text, so every
// message that matters can be written this way; blobs are raw bytes).
//
// Checks:
//  - Decode never throws, crashes or leaks (ASan/UBSan), whatever the frames;
//  - a refused message gets a non-empty reason, and the `error` reply the
//    broker builds from it encodes and decodes;
//  - an accepted message re-encodes to frames that decode to the same
//    message (command, body, blobs), and encoding is then a fixed point;
//  - every reader of a body that the broker, the worker and the tools apply
//    to a decoded message (typed field reads, the task parser on
//    submit.tasks[], the ctl formatters, the state counts) returns a Status
//    instead of throwing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/task_spec.h"
#include "fuzz/fuzz_check.h"
#include "tools/common/state_counts.h"
#include "tools/ctl/format.h"

namespace {

using leaseq::Status;
namespace wire = leaseq::wire;

std::vector<std::string> SplitFrames(const uint8_t* data, size_t size) {
  std::vector<std::string> frames(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      frames.emplace_back();
    } else {
      frames.back().push_back(static_cast<char>(data[i]));
    }
  }
  return frames;
}

// What the receiving side reads out of bodies; none of it may throw.
void ReadEveryField(const wire::Message& m) {
  const nlohmann::json& body = m.body;
  // The receivers' check against the declaration (wire_messages.def); a
  // body it accepts must then give every declared field to its typed read.
  for (wire::Role r : {wire::Role::kWorker, wire::Role::kClient, wire::Role::kBroker}) {
    (void)wire::Validate(r, m.command, body);
  }
  if (wire::CheckBody(m.command, body).ok()) {
    for (const wire::FieldDecl& f : wire::Declaration(m.command).fields) {
      const std::string name(f.name);
      if (!body.contains(name) || body[name].is_null()) continue;
      Status read;
      int64_t i = 0;
      std::string str;
      std::vector<int64_t> ints;
      std::vector<std::string> strs;
      if (f.type == wire::FieldType::kInt) read = wire::GetInt(body, name.c_str(), &i);
      if (f.type == wire::FieldType::kString) read = wire::GetString(body, name.c_str(), &str);
      if (f.type == wire::FieldType::kIntList) read = wire::GetIntList(body, name.c_str(), &ints);
      if (f.type == wire::FieldType::kStringList) read = wire::GetStringList(body, name.c_str(), &strs);
      FUZZ_CHECK(read.ok(), "a validated field does not read: %s", read.message().c_str());
    }
  }
  for (const char* f : {"id", "pid", "slots", "attempt", "attempt_no", "exit_code", "signal",
                        "heartbeat_ms", "liveness", "index"}) {
    int64_t v = 0;
    (void)wire::GetInt(body, f, &v);
  }
  for (const char* f : {"name", "session", "host", "key", "fn", "error", "message", "state"}) {
    std::string v;
    (void)wire::GetString(body, f, &v);
  }
  for (const char* f : {"running", "attempts", "abandon"}) {
    std::vector<int64_t> v;
    (void)wire::GetIntList(body, f, &v);
  }
  for (const char* f : {"queues", "fns", "keys", "cmd", "missing", "changed"}) {
    std::vector<std::string> v;
    (void)wire::GetStringList(body, f, &v);
  }
  // The broker's request path: the id is echoed into the reply or error.
  const nlohmann::json id = body.value("id", nlohmann::json(nullptr));
  std::vector<std::string> err = wire::Encode(wire::MakeError("refused", id));
  wire::Message back;
  FUZZ_CHECK(wire::Decode(err, &back).ok(), "an error reply echoing the id does not decode");

  // The broker's submit path: every task through the strict parser; an
  // accepted task must have a canonical form.
  auto tasks = body.find("tasks");
  if (tasks != body.end() && tasks->is_array()) {
    for (const auto& t : *tasks) {
      leaseq::TaskSpec spec;
      if (leaseq::ParseTaskJson(t, &spec).ok()) {
        FUZZ_CHECK(!spec.cmd.empty() || !spec.fn.empty(), "accepted task without cmd or fn");
        (void)leaseq::CanonicalFields(spec);
      }
    }
  }

  // The tools' reply path (leaseq-ctl status / workers / show, waits).
  std::string text;
  (void)leaseq::tools::FormatStatus(body, &text);
  (void)leaseq::tools::FormatWorkers(body, &text);
  (void)leaseq::tools::FormatShow(body);
  auto counts = body.find("counts");
  if (counts != body.end()) {
    leaseq::tools::StateCounts c;
    if (leaseq::tools::ParseStateCounts(*counts, &c).ok()) {
      for (int64_t n : c.n) FUZZ_CHECK(n >= 0, "negative state count accepted");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> frames = SplitFrames(data, size);
  wire::Message m;
  Status s = wire::Decode(frames, &m);
  if (!s.ok()) {
    FUZZ_CHECK(!s.message().empty(), "a refusal without a reason");
    // The broker answers an undecodable message with this.
    wire::Message back;
    FUZZ_CHECK(wire::Decode(wire::Encode(wire::MakeError(s.message())), &back).ok(),
               "the error reply for a refused message does not decode");
    return 0;
  }

  FUZZ_CHECK(frames.size() >= 3 && frames.size() <= 3 + wire::kMaxBlobs, "accepted %zu frames",
             frames.size());
  FUZZ_CHECK(frames[0] == wire::kHeader, "accepted a wrong header");
  FUZZ_CHECK(wire::CommandName(m.command) == frames[1], "command name changed");
  FUZZ_CHECK(m.body.is_object(), "accepted a body that is not an object");
  FUZZ_CHECK(m.blobs.size() == frames.size() - 3, "blob count changed");

  const std::vector<std::string> encoded = wire::Encode(m);
  wire::Message again;
  Status s2 = wire::Decode(encoded, &again);
  FUZZ_CHECK(s2.ok(), "re-encoded message refused: %s", s2.message().c_str());
  FUZZ_CHECK(again.command == m.command, "command differs after a round trip");
  FUZZ_CHECK(again.body == m.body, "body differs after a round trip:\n  first:  %s\n  again:  %s",
             wire::DumpJson(m.body).c_str(), wire::DumpJson(again.body).c_str());
  FUZZ_CHECK(again.blobs == m.blobs, "blobs differ after a round trip");
  FUZZ_CHECK(wire::Encode(again) == encoded, "encoding is not a fixed point");

  ReadEveryField(m);
  return 0;
}
