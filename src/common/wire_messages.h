// The declaration of every wire message, generated from wire_messages.def
// (the one place a command, its senders and its fields are written down):
//  - Command, the commands; CommandName / CommandFromName (protocol.h);
//  - wire::field::kSlots etc., the body field names, for every reader and
//    writer of a body (no field name is spelled out anywhere else);
//  - Declaration(c): who may send c and what its body holds;
//  - Validate(receiver, m): whether m may reach `receiver` (its command is
//    one that a peer of that role sends) and whether its body has every
//    required field, and every field it has, of the declared type. The
//    error names the command and the field:
//      "register: field 'slots' must be an integer".
// Handlers may then read the declared fields without checking their types
// again (their own rules, e.g. slots >= 0, stay theirs).
// Everything here is constant data and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "common/status.h"

namespace leaseq::wire {

enum class Command : uint8_t {
#define WIRE_MESSAGE(ident, name, senders) k##ident,
#include "common/wire_messages.def"
};

// The body field names. Arrays of char so that they work as JSON object
// keys, as `const char*` arguments and as string_views alike.
namespace field {
#define WIRE_FIELD_NAME(ident, text) inline constexpr char k##ident[] = text;
#include "common/wire_messages.def"
}  // namespace field

// Who is at either end of a connection. A set of roles is a bit mask.
enum class Role : uint8_t { kWorker = 1, kNanny = 2, kClient = 4, kBroker = 8 };
namespace roles {
inline constexpr uint8_t kWorker = static_cast<uint8_t>(Role::kWorker);
inline constexpr uint8_t kNanny = static_cast<uint8_t>(Role::kNanny);
inline constexpr uint8_t kClient = static_cast<uint8_t>(Role::kClient);
inline constexpr uint8_t kBroker = static_cast<uint8_t>(Role::kBroker);
}  // namespace roles
std::string_view RoleName(Role r);

enum class FieldType : uint8_t { kInt, kString, kBool, kIntList, kStringList, kObject, kList, kAny };
enum class Presence : uint8_t { kRequired, kOptional };
// "an integer", "a list of strings", ...: what an error says was expected.
std::string_view TypeDescription(FieldType t);

struct FieldDecl {
  Command command;
  std::string_view name;
  FieldType type;
  Presence presence;
  bool in_reply;  // a field of the `reply` to `command`, not of its body
};

struct MessageDecl {
  Command command;
  std::string_view name;
  uint8_t senders;  // roles:: bits
  std::span<const FieldDecl> fields;        // of its body
  std::span<const FieldDecl> reply_fields;  // of the reply to it (requests)
  bool SentBy(Role r) const { return (senders & static_cast<uint8_t>(r)) != 0; }
};

// Every command, in declaration order; Declaration(c) is kMessages[c].
std::span<const MessageDecl> Messages();
const MessageDecl& Declaration(Command c);

// The role of the peer that sends c to the broker (worker, nanny or
// client): each command the broker takes has exactly one. kBroker for a
// command only the broker sends.
Role SenderAtBroker(Command c);

// Whether m may come to a `receiver` and its body is as declared. The
// broker takes what workers, nannies and clients send; the others take
// what the broker sends. Optional fields may be absent or null.
Status CheckSender(Role receiver, Command c);
Status CheckBody(Command c, const nlohmann::json& body);
Status Validate(Role receiver, Command c, const nlohmann::json& body);

}  // namespace leaseq::wire
