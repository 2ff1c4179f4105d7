#include "common/wire_messages.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/protocol.h"

namespace leaseq::wire {
namespace {

// A value of the declared type, different for each field so that a round
// trip that swapped two fields would show.
nlohmann::json Sample(FieldType t, int n) {
  switch (t) {
    case FieldType::kInt:
      return n;
    case FieldType::kString:
      return "s" + std::to_string(n);
    case FieldType::kBool:
      return n % 2 == 0;
    case FieldType::kIntList:
      return {n, n + 1};
    case FieldType::kStringList:
      return {"a" + std::to_string(n), "b"};
    case FieldType::kObject:
      return {{"n", n}};
    case FieldType::kList:
      return {nlohmann::json::object(), n};
    case FieldType::kAny:
      return n;
  }
  return nullptr;
}

// Every declared field, as a sender fills it in.
nlohmann::json FullBody(const MessageDecl& d) {
  nlohmann::json body = nlohmann::json::object();
  int n = 0;
  for (const FieldDecl& f : d.fields) body[std::string(f.name)] = Sample(f.type, ++n);
  return body;
}

// The role that receives what `sender` sends.
Role ReceiverOf(Role sender) { return sender == Role::kBroker ? Role::kWorker : Role::kBroker; }

std::vector<Role> SendersOf(const MessageDecl& d) {
  std::vector<Role> out;
  for (Role r : {Role::kWorker, Role::kNanny, Role::kClient, Role::kBroker}) {
    if (d.SentBy(r)) out.push_back(r);
  }
  return out;
}

TEST(WireMessages, TheTableIsTheCommandList) {
  ASSERT_EQ(Messages().size(), static_cast<size_t>(Command::kError) + 1);
  std::set<std::string_view> names;
  for (const MessageDecl& d : Messages()) {
    EXPECT_EQ(&Declaration(d.command), &d);
    EXPECT_EQ(CommandName(d.command), d.name);
    EXPECT_TRUE(names.insert(d.name).second) << "declared twice: " << d.name;
    std::set<std::string_view> fields;
    for (const FieldDecl& f : d.fields) {
      EXPECT_TRUE(fields.insert(f.name).second) << d.name << "." << f.name;
      EXPECT_EQ(f.command, d.command);
    }
  }
  EXPECT_EQ(std::string_view(field::kSlots), "slots");
  EXPECT_EQ(std::string_view(field::kAttempts), "attempts");
}

TEST(WireMessages, EveryDeclaredMessageRoundTripsAndValidates) {
  for (const MessageDecl& d : Messages()) {
    SCOPED_TRACE(std::string(d.name));
    const Message m = Make(d.command, FullBody(d), {std::string("blob\0", 5)});
    Message back;
    ASSERT_TRUE(Decode(Encode(m), &back).ok());
    EXPECT_EQ(back.command, d.command);
    EXPECT_EQ(back.body, m.body);
    EXPECT_EQ(back.blobs, m.blobs);
    for (Role sender : SendersOf(d)) {
      Status s = Validate(ReceiverOf(sender), back.command, back.body);
      EXPECT_TRUE(s.ok()) << RoleName(sender) << ": " << s.message();
    }
    // Only the required fields: still valid.
    nlohmann::json minimal = nlohmann::json::object();
    for (const FieldDecl& f : d.fields) {
      if (f.presence == Presence::kRequired) minimal[std::string(f.name)] = back.body[std::string(f.name)];
    }
    EXPECT_TRUE(CheckBody(d.command, minimal).ok()) << CheckBody(d.command, minimal).message();
  }
}

TEST(WireMessages, AMessageFromTheWrongRoleIsRefused) {
  // The broker does not take what it sends itself...
  for (Command c : {Command::kWelcome, Command::kTask, Command::kAck, Command::kAbort,
                    Command::kReregister, Command::kReply, Command::kError}) {
    Status s = CheckSender(Role::kBroker, c);
    EXPECT_FALSE(s.ok()) << CommandName(c);
    EXPECT_EQ(s.message(), "command '" + std::string(CommandName(c)) +
                               "' is one the broker sends, not a request it takes");
  }
  // ...and a worker or client takes only what a broker sends.
  Status s = CheckSender(Role::kWorker, Command::kRegister);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "command 'register' is one a worker sends, not the broker");
  EXPECT_FALSE(CheckSender(Role::kClient, Command::kSubmit).ok());
  EXPECT_FALSE(CheckSender(Role::kNanny, Command::kLost).ok());
  // The broker takes each command from exactly one kind of peer.
  EXPECT_EQ(SenderAtBroker(Command::kRegister), Role::kWorker);
  EXPECT_EQ(SenderAtBroker(Command::kHeartbeat), Role::kWorker);
  EXPECT_EQ(SenderAtBroker(Command::kLost), Role::kNanny);
  EXPECT_EQ(SenderAtBroker(Command::kSubmit), Role::kClient);
  EXPECT_EQ(SenderAtBroker(Command::kTask), Role::kBroker);
  EXPECT_TRUE(CheckSender(Role::kWorker, Command::kHeartbeat).ok());
  EXPECT_TRUE(CheckSender(Role::kBroker, Command::kHeartbeat).ok());
}

TEST(WireMessages, AMissingOrMistypedRequiredFieldIsNamed) {
  nlohmann::json reg = {{"name", "w"}, {"pid", 1}, {"session", "s"}, {"slots", 2}};
  EXPECT_TRUE(Validate(Role::kBroker, Command::kRegister, reg).ok());

  reg["slots"] = "2";
  Status s = Validate(Role::kBroker, Command::kRegister, reg);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "register: field 'slots' must be an integer");

  reg.erase("slots");
  s = Validate(Role::kBroker, Command::kRegister, reg);
  EXPECT_EQ(s.message(), "register: field 'slots' is missing: it must be an integer");

  reg["slots"] = 2;
  reg["queues"] = {"a", 1};
  s = Validate(Role::kBroker, Command::kRegister, reg);
  EXPECT_EQ(s.message(), "register: field 'queues' must be a list of strings");

  s = Validate(Role::kBroker, Command::kResult, {{"attempt", 1}, {"exit_code", 0}, {"permanent", 1}});
  EXPECT_EQ(s.message(), "result: field 'permanent' must be true or false");

  s = Validate(Role::kWorker, Command::kTask, {{"attempt", 1}, {"key", "k"}});
  EXPECT_EQ(s.message(), "task: field 'attempt_no' is missing: it must be an integer");

  // Optional fields may be absent or null; unknown fields are let through
  // (a newer peer may add some).
  EXPECT_TRUE(Validate(Role::kBroker, Command::kList, {{"state", nullptr}, {"extra", 1}}).ok());
  EXPECT_FALSE(Validate(Role::kBroker, Command::kShow, {{"key", nullptr}}).ok());
}

TEST(WireMessages, RefusalIsReadFromTheCodeNotTheText) {
  EXPECT_EQ(RefusalOf(MakeError("anything").body), Refusal::kRefused);
  EXPECT_EQ(RefusalOf(MakeUnavailable("disk full").body), Refusal::kUnavailable);
  EXPECT_EQ(RefusalOf(MakeNameRefusal(kNameInUse, "x").body), Refusal::kNameInUse);
  EXPECT_EQ(RefusalOf(MakeNameRefusal(kNameReserved, "x").body), Refusal::kNameReserved);
  // The wording does not matter.
  EXPECT_EQ(RefusalOf(MakeError("unavailable name_in_use").body), Refusal::kRefused);
  EXPECT_EQ(ErrorMessage(MakeError("why").body, "?"), "why");
  EXPECT_EQ(ErrorMessage(nlohmann::json::object(), "?"), "?");
}

}  // namespace
}  // namespace leaseq::wire
