#include "broker/name_claim.h"

namespace leaseq::rules {

NameVerdict ClaimName(const NameHolder& holder, const std::string& session,
                      const std::string& replaces) {
  using State = NameHolder::State;
  if (holder.state == State::kNone || holder.state == State::kSilent) return NameVerdict::kAccept;
  if (holder.session == session) return NameVerdict::kAccept;
  if (!replaces.empty() && replaces == holder.session) return NameVerdict::kAccept;
  return holder.state == State::kLive ? NameVerdict::kInUse : NameVerdict::kReserved;
}

std::string NameInUseMessage(const std::string& name, const NameHolder& holder) {
  return "name '" + name + "' is in use by pid " + std::to_string(holder.pid) + " on host " +
         (holder.host.empty() ? std::string("?") : holder.host);
}

std::string NameReservedMessage(const std::string& name, const NameHolder& holder) {
  return NameInUseMessage(name, holder) +
         " (not back yet since the broker restarted; the name is kept for it a few seconds)";
}

}  // namespace leaseq::rules
