#include "broker/name_claim.h"

namespace leaseq::rules {

namespace {

// A session a nanny chose for one of its workers: "<nanny>.<n>".
bool StartedBy(const std::string& session, const std::string& nanny) {
  return !nanny.empty() && session.size() > nanny.size() + 1 &&
         session.compare(0, nanny.size(), nanny) == 0 && session[nanny.size()] == '.';
}

}  // namespace

NameVerdict ClaimName(const NameHolder& holder, const std::string& session,
                      const std::string& nanny) {
  using State = NameHolder::State;
  if (holder.state == State::kNone || holder.state == State::kSilent) return NameVerdict::kAccept;
  if (holder.session == session) return NameVerdict::kAccept;
  if (StartedBy(session, nanny) && StartedBy(holder.session, nanny)) return NameVerdict::kAccept;
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
