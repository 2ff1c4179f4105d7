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
// Decode never throws and never trusts its input: a wrong header, an unknown
// command, a body that is not a JSON object or too many frames give an error
// Status. Stateless; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace leaseq::wire {

inline constexpr std::string_view kHeader = "LEASEQ1";
inline constexpr size_t kMaxBlobs = 64;

enum class Command {
  // worker -> broker
  kRegister,   // {name, pid, session, host, slots, queues[], fns[], running[], nanny?}
  kReady,      // {slots}: how many tasks the worker takes at once from now on
  kHeartbeat,  // both ways; from a worker: {running[]} = attempts it holds
  kResult,     // {attempt, exit_code, signal, error, permanent?}; blob 0 = stdout
  kRelease,    // {attempts[]}: handed back by a draining worker
  kGoodbye,    // {}: the worker leaves cleanly
  kLost,       // {name, pid, session?}: from a nanny, its worker process died
  // broker -> worker
  kWelcome,     // {heartbeat_ms, liveness, abandon[]}
  kTask,        // {attempt, key, attempt_no, cmd[] | fn, timeout_ms?}; blob 0 = stdin
  kAck,         // {attempts[]}: results stored; forget them
  kAbort,       // {attempts[]}: kill these attempts, send nothing for them
  kReregister,  // {}: the broker does not know you; register again
  // client -> broker (every request carries "id", echoed in the reply)
  kSubmit,   // {id, tasks[]}
  kStatus,   // {id}
  kWorkers,  // {id}
  kShow,     // {id, key}
  kFetch,    // {id, key}: the result bytes come back as blob 0
  kStates,   // {id, keys[], failures?}: counts of those tasks by state
  kCancel,   // {id, keys[]} or {id, queue}: one batch of a queue
  kRetry,    // {id, keys[]} or {id, state, queue?, cursor?}: one batch
  kPause,    // {id, queue}: nothing more is leased from it
  kResume,   // {id, queue}
  kList,     // {id, state?, queue?, limit?}: tasks, bounded
  kPurge,    // {id, state, queue?, older_than_ms?, cursor?}: one batch
  kBackup,   // {id, path, token}: start (or ask about) an online backup
  // broker -> client / worker
  kReply,  // {id, ...}
  kError,  // {id?, message, unavailable? | code?}
};

struct Message {
  Command command = Command::kError;
  nlohmann::json body = nlohmann::json::object();
  std::vector<std::string> blobs;
};

std::string_view CommandName(Command c);
std::optional<Command> CommandFromName(std::string_view name);

// Frames of a message, header first (no routing id).
std::vector<std::string> Encode(const Message& m);

// Parses frames (no routing id). On error, *out is unspecified.
Status Decode(const std::vector<std::string>& frames, Message* out);

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

// Typed reads of body fields that report a clear error instead of throwing.
Status GetInt(const nlohmann::json& body, const char* field, int64_t* out);
Status GetString(const nlohmann::json& body, const char* field, std::string* out);
Status GetIntList(const nlohmann::json& body, const char* field, std::vector<int64_t>* out);
Status GetStringList(const nlohmann::json& body, const char* field,
                     std::vector<std::string>* out);

// JSON text of j; invalid UTF-8 in strings is replaced, never thrown on.
std::string DumpJson(const nlohmann::json& j);

}  // namespace leaseq::wire
