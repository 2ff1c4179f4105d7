// Name claims: who may register under a worker name. A worker name is held
// by one process (one `session`) at a time, so that two workers started
// with the same --name cannot take each other's leases in turn (each
// "replacing" the other until a healthy task failed as a poison).
// Pure: the broker describes the name's current holder; no I/O, no clock.
// Thread-safe (pure).
//
// The rule (docs/protocol.md, "Worker names"), for a register with session S:
//  - nobody holds the name, or its holder is silent (not heard for
//    heartbeat_ms x liveness: lost): accepted;
//  - S is the holder's session: the same process reconnecting (a network
//    blip, a broker restart): accepted;
//  - the register comes from the nanny that started the holder (`nanny`
//    N, with S and the holder's session both of the form "N.<n>"): a nanny
//    runs one worker at a time and starts the next only after reaping the
//    last, so the holder is dead even if the broker has not noticed yet
//    (the nanny's `lost` may be late, or lost): accepted;
//  - the holder is live (connected and heard within heartbeat_ms x
//    liveness): refused for good, kInUse;
//  - the holder is reserved (the database named it alive when the broker
//    started, and it has not registered again within the restart grace):
//    refused for now, kReserved. The holder may be reconnecting; the sender
//    tries again, and is accepted once the grace ends without the holder,
//    or refused for good once the holder is back.
#pragma once

#include <cstdint>
#include <string>

namespace leaseq::rules {

struct NameHolder {
  enum class State { kNone, kLive, kSilent, kReserved };
  State state = State::kNone;
  std::string session;
  int64_t pid = 0;
  std::string host;
};

enum class NameVerdict { kAccept, kInUse, kReserved };

// session: the register's; nanny: its `nanny` field, or empty.
NameVerdict ClaimName(const NameHolder& holder, const std::string& session,
                      const std::string& nanny);

// The refusals' messages: "name 'N' is in use by pid P on host H", and for
// kReserved the same with why it is worth trying again.
std::string NameInUseMessage(const std::string& name, const NameHolder& holder);
std::string NameReservedMessage(const std::string& name, const NameHolder& holder);

}  // namespace leaseq::rules
