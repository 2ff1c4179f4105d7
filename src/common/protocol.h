// The leaseq wire codec: the only code that turns ZeroMQ frames into
// messages and back. The protocol itself is written down in docs/protocol.md.
//
// A message is:  frame 0  protocol header "LEASEQ1" (name + version)
//                frame 1  command name, e.g. "register"
//                frame 2  body: one JSON object (UTF-8)
//                frame 3+ optional binary payloads ("blobs": stdin, stdout)
// On the broker's ROUTER socket the routing-id frame comes first; it is not
// part of the message and is handled by the loop, not by this codec.
//
// The commands and their fields are declared once, in wire_messages.def
// (Command, wire::field::k..., wire::Validate: wire_messages.h).
//
// Decode never throws and never trusts its input: a wrong header, an unknown
// command, a body that is not a JSON object or too many frames give an error
// Status. It does not look inside the body: the receiver calls Validate,
// which knows its own role. Stateless; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/wire_messages.h"

namespace leaseq::wire {

inline constexpr std::string_view kHeader = "LEASEQ1";
inline constexpr size_t kMaxBlobs = 64;

struct Message {
  Command command = Command::kError;
  nlohmann::json body = nlohmann::json::object();
  std::vector<std::string> blobs;
  // When not empty: the body as JSON text, instead of `body` (left empty
  // then). The broker writes its most frequent message, `task`, this way
  // (task_body.h), and reads the most frequent one it gets, `results`,
  // from the text when it can (DecodeResultsAsText). Decode never sets it.
  std::string body_text;
};

std::string_view CommandName(Command c);
std::optional<Command> CommandFromName(std::string_view name);

// Frames of a message, header first (no routing id).
std::vector<std::string> Encode(const Message& m);
// The first three of them (header, command, body): a sender sends the blobs
// from the message itself rather than copy a large submission once more.
std::vector<std::string> EncodeHead(const Message& m);

// The message as its receiver decodes it: body_text parsed into body. For
// in-memory ports (tests, the simulator) that hand messages over unencoded.
Message AsReceived(Message m);

// Parses frames (no routing id). On error, *out is unspecified. The blobs
// are moved out of frames (left empty), not copied.
Status Decode(std::vector<std::string>&& frames, Message* out);
Status Decode(const std::vector<std::string>& frames, Message* out);
// As Decode, but the body of a `results` message is kept as text in
// body_text, not parsed: the broker reads the plain ones without a json
// tree (broker/plain_results.h) and parses the others with ParseBody.
Status DecodeResultsAsText(std::vector<std::string>&& frames, Message* out);
// A body of `command` parsed from its text: a JSON object, or the error
// Decode gives for it.
Status ParseBody(Command command, const std::string& text, nlohmann::json* body);

// Convenience constructors.
Message Make(Command c, nlohmann::json body = nlohmann::json::object(),
             std::vector<std::string> blobs = {});
Message MakeError(const std::string& message, const nlohmann::json& id = nullptr);
// An error that says nothing was stored because the broker cannot write now
// (full disk, unwritable file): the same request may succeed later.
// Body: `message`, `id`, `unavailable: true`.
Message MakeUnavailable(const std::string& message, const nlohmann::json& id = nullptr);

// A register refused because of its name (docs/protocol.md, "Worker
// names"). Body: `message`, `code`: kNameInUse (another live process holds
// the name: do not try again) or kNameReserved (its holder may be
// reconnecting after a broker restart: try again in a heartbeat).
inline constexpr std::string_view kNameInUse = "name_in_use";
inline constexpr std::string_view kNameReserved = "name_reserved";
Message MakeNameRefusal(std::string_view code, const std::string& message);

// How the broker refused, read from an `error` body's `unavailable` and
// `code` fields, never from its message text:
//   kRefused       bad input, or a request that cannot succeed as it is
//   kUnavailable   nothing was stored: the same request may succeed later
//   kNameInUse / kNameReserved   a refused register (see MakeNameRefusal)
enum class Refusal { kRefused, kUnavailable, kNameInUse, kNameReserved };
Refusal RefusalOf(const nlohmann::json& error_body);
// The `message` of an error body, or `fallback` when it has none.
std::string ErrorMessage(const nlohmann::json& error_body, const std::string& fallback);

// Typed reads of body fields that report a clear error instead of throwing.
Status GetInt(const nlohmann::json& body, const char* field, int64_t* out);
Status GetString(const nlohmann::json& body, const char* field, std::string* out);
Status GetIntList(const nlohmann::json& body, const char* field, std::vector<int64_t>* out);
Status GetStringList(const nlohmann::json& body, const char* field,
                     std::vector<std::string>* out);

// JSON text of j; invalid UTF-8 in strings is replaced, never thrown on.
std::string DumpJson(const nlohmann::json& j);

}  // namespace leaseq::wire
