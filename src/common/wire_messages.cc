#include "common/wire_messages.h"

#include <string>

namespace leaseq::wire {

namespace {

using namespace roles;  // the senders column of the table names roles bare

constexpr FieldDecl kBodyFields[] = {
#define WIRE_FIELD(message, f, type, presence) \
  {Command::k##message, field::k##f, FieldType::k##type, Presence::k##presence, false},
#include "common/wire_messages.def"
};

constexpr FieldDecl kReplyFields[] = {
#define WIRE_REPLY_FIELD(request, f, type, presence) \
  {Command::k##request, field::k##f, FieldType::k##type, Presence::k##presence, true},
#include "common/wire_messages.def"
};

// The fields of one command: a slice of the table, whose rows for one
// command are kept together (checked below).
constexpr std::span<const FieldDecl> FieldsOf(std::span<const FieldDecl> all, Command c) {
  size_t begin = all.size(), n = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].command != c) continue;
    if (n == 0) begin = i;
    ++n;
  }
  return all.subspan(begin, n);
}

constexpr bool RowsTogether(std::span<const FieldDecl> all) {
  for (size_t i = 1; i < all.size(); ++i) {
    if (all[i].command == all[i - 1].command) continue;
    for (size_t j = 0; j + 1 < i; ++j) {
      if (all[j].command == all[i].command) return false;
    }
  }
  return true;
}
static_assert(RowsTogether(kBodyFields), "wire_messages.def: keep a message's WIRE_FIELD lines together");
static_assert(RowsTogether(kReplyFields),
              "wire_messages.def: keep a request's WIRE_REPLY_FIELD lines together");

constexpr MessageDecl kMessages[] = {
#define WIRE_MESSAGE(ident, text, senders)                                     \
  {Command::k##ident, text, static_cast<uint8_t>(senders),                     \
   FieldsOf(kBodyFields, Command::k##ident), FieldsOf(kReplyFields, Command::k##ident)},
#include "common/wire_messages.def"
};

// Declaration(c) indexes the table by c; and the broker tells who sent a
// command by it: at most one role besides the broker may send each.
constexpr bool WellFormed() {
  for (size_t i = 0; i < std::size(kMessages); ++i) {
    if (static_cast<size_t>(kMessages[i].command) != i) return false;
    const uint8_t peers = kMessages[i].senders & static_cast<uint8_t>(~kBroker);
    if (kMessages[i].senders == 0 || (peers & (peers - 1)) != 0) return false;
  }
  return true;
}
static_assert(WellFormed(),
              "wire_messages.def: each message needs its senders, at most one besides the broker");

std::string FieldError(const MessageDecl& m, const FieldDecl& f, const char* what) {
  return std::string(m.name) + ": field '" + std::string(f.name) + "' " + what + " " +
         std::string(TypeDescription(f.type));
}

bool HasType(const nlohmann::json& v, FieldType t) {
  switch (t) {
    case FieldType::kInt:
      return v.is_number_integer();
    case FieldType::kString:
      return v.is_string();
    case FieldType::kBool:
      return v.is_boolean();
    case FieldType::kIntList:
      if (!v.is_array()) return false;
      for (const auto& e : v) {
        if (!e.is_number_integer()) return false;
      }
      return true;
    case FieldType::kStringList:
      if (!v.is_array()) return false;
      for (const auto& e : v) {
        if (!e.is_string()) return false;
      }
      return true;
    case FieldType::kObject:
      return v.is_object();
    case FieldType::kList:
      return v.is_array();
    case FieldType::kAny:
      return true;
  }
  return false;
}

}  // namespace

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kWorker:
      return "worker";
    case Role::kNanny:
      return "nanny";
    case Role::kClient:
      return "client";
    case Role::kBroker:
      return "broker";
  }
  return "?";
}

std::string_view TypeDescription(FieldType t) {
  switch (t) {
    case FieldType::kInt:
      return "an integer";
    case FieldType::kString:
      return "a string";
    case FieldType::kBool:
      return "true or false";
    case FieldType::kIntList:
      return "a list of integers";
    case FieldType::kStringList:
      return "a list of strings";
    case FieldType::kObject:
      return "an object";
    case FieldType::kList:
      return "a list";
    case FieldType::kAny:
      return "any value";
  }
  return "?";
}

std::span<const MessageDecl> Messages() { return kMessages; }

const MessageDecl& Declaration(Command c) { return kMessages[static_cast<size_t>(c)]; }

Role SenderAtBroker(Command c) {
  const uint8_t peers = Declaration(c).senders & static_cast<uint8_t>(~kBroker);
  return peers == 0 ? Role::kBroker : static_cast<Role>(peers);
}

Status CheckSender(Role receiver, Command c) {
  const MessageDecl& m = Declaration(c);
  if (receiver == Role::kBroker) {
    if (SenderAtBroker(c) != Role::kBroker) return Status::Ok();
    return Status::Invalid("command '" + std::string(m.name) +
                           "' is one the broker sends, not a request it takes");
  }
  if (m.SentBy(Role::kBroker)) return Status::Ok();
  return Status::Invalid("command '" + std::string(m.name) + "' is one a " +
                         std::string(RoleName(SenderAtBroker(c))) +
                         " sends, not the broker");
}

Status CheckBody(Command c, const nlohmann::json& body) {
  const MessageDecl& m = Declaration(c);
  if (!body.is_object()) return Status::Invalid(std::string(m.name) + ": the body is not a JSON object");
  for (const FieldDecl& f : m.fields) {
    auto it = body.find(f.name);
    if (it == body.end() || it->is_null()) {
      if (f.presence == Presence::kOptional) continue;
      return Status::Invalid(FieldError(m, f, "is missing: it must be"));
    }
    if (!HasType(*it, f.type)) return Status::Invalid(FieldError(m, f, "must be"));
  }
  return Status::Ok();
}

Status Validate(Role receiver, Command c, const nlohmann::json& body) {
  Status s = CheckSender(receiver, c);
  if (s.ok()) s = CheckBody(c, body);
  return s;
}

}  // namespace leaseq::wire
