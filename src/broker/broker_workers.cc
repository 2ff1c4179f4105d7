// Broker: what workers (and nannies) say.
#include <algorithm>
#include <cstdio>

#include "broker/broker.h"
#include "common/log.h"

namespace leaseq {

namespace {

bool IsWorkerCommand(wire::Command c) {
  switch (c) {
    case wire::Command::kReady:
    case wire::Command::kHeartbeat:
    case wire::Command::kResult:
    case wire::Command::kRelease:
    case wire::Command::kGoodbye:
      return true;
    default:
      return false;
  }
}

Status ParseWorkerRecord(const nlohmann::json& body, WorkerRecord* w) {
  Status s = wire::GetString(body, "name", &w->name);
  if (s.ok()) s = wire::GetString(body, "session", &w->session);
  if (s.ok()) s = wire::GetInt(body, "pid", &w->pid);
  if (s.ok()) s = wire::GetInt(body, "slots", &w->slots);
  if (s.ok() && body.contains("prefetch")) s = wire::GetInt(body, "prefetch", &w->prefetch);
  if (s.ok() && w->prefetch < 0) s = Status::Invalid("field 'prefetch' must not be negative");
  if (s.ok()) s = wire::GetStringList(body, "queues", &w->queues);
  if (s.ok()) s = wire::GetStringList(body, "fns", &w->fns);
  if (s.ok() && body.contains("host")) s = wire::GetString(body, "host", &w->host);
  if (s.ok() && (w->name.empty() || w->session.empty())) s = Status::Invalid("empty name or session");
  if (s.ok() && w->slots < 0) s = Status::Invalid("field 'slots' must not be negative");
  if (s.ok() && w->queues.empty()) w->queues = {"default"};
  return s;
}

}  // namespace

void Broker::Handle(const std::string& routing_id, const wire::Message& m) {
  if (m.command == wire::Command::kRegister) return OnRegister(routing_id, m);
  if (m.command == wire::Command::kLost) return OnLostNotice(routing_id, m);
  if (IsWorkerCommand(m.command)) {
    ConnectedWorker* w = workers_.ByRoutingId(routing_id);
    if (w == nullptr) {
      // After a broker restart, or after this worker was declared lost.
      Reply(routing_id, wire::Make(wire::Command::kReregister), false);
      return;
    }
    w->last_heard_ms = clock_->SteadyMs();
    w->unreachable = false;
    return OnWorkerMessage(*w, m);
  }
  OnRequest(routing_id, m);
}

rules::NameHolder Broker::NameHolderOf(const std::string& name) {
  using State = rules::NameHolder::State;
  rules::NameHolder h;
  if (const ConnectedWorker* c = workers_.ByName(name)) {
    const bool silent = rules::WorkerSilent(options_.settings, c->last_heard_ms, clock_->SteadyMs());
    return {silent ? State::kSilent : State::kLive, c->record.session, c->record.pid, c->record.host};
  }
  // Not connected: only a holder the database named alive at start-up,
  // still within its restart grace, holds the name.
  WorkerRecord row;
  std::string state;
  if (workers_.IsExpected(name) && store_->FindWorker(name, &row, &state).ok() &&
      state == ToText(WorkerState::kAlive)) {
    h = {State::kReserved, row.session, row.pid, row.host};
  }
  return h;
}

void Broker::OnRegister(const std::string& routing_id, const wire::Message& m) {
  WorkerRecord record;
  std::vector<int64_t> held, queued;
  std::string nanny;
  Status s = ParseWorkerRecord(m.body, &record);
  if (s.ok()) s = wire::GetIntList(m.body, "running", &held);
  if (s.ok()) s = wire::GetIntList(m.body, "queued", &queued);
  if (s.ok() && m.body.contains("nanny")) s = wire::GetString(m.body, "nanny", &nanny);
  if (!s.ok()) {
    Reply(routing_id, wire::MakeError("bad register: " + s.message()), false);
    return;
  }
  // One process per name: two workers started with the same --name must
  // not take each other's leases in turn (name_claim.h has the rule).
  const rules::NameHolder holder = NameHolderOf(record.name);
  const rules::NameVerdict verdict = rules::ClaimName(holder, record.session, nanny);
  if (verdict != rules::NameVerdict::kAccept) {
    const bool for_good = verdict == rules::NameVerdict::kInUse;
    const std::string message = for_good ? rules::NameInUseMessage(record.name, holder)
                                         : rules::NameReservedMessage(record.name, holder);
    log::Printf(log::Level::kWarn, "refused worker %s (pid %lld on host %s): %s",
                 record.name.c_str(), static_cast<long long>(record.pid), record.host.c_str(),
                 message.c_str());
    Reply(routing_id,
          wire::MakeNameRefusal(for_good ? wire::kNameInUse : wire::kNameReserved, message), false);
    return;
  }
  const int64_t now = clock_->WallMs();
  bool same_session = false;
  CheckStatus(store_->RegisterWorker(record, now, &same_session));
  // Keep the attempts it still holds; release those leased to it that it
  // does not hold (never delivered): they were never started, so no blame.
  std::vector<int64_t> abandon, leased;
  CheckStatus(store_->Renew(record.name, held, now, &abandon));
  CheckStatus(store_->Renew(record.name, queued, now, &abandon, /*started=*/false));
  held.insert(held.end(), queued.begin(), queued.end());
  CheckStatus(store_->RunningAttemptsOf(record.name, &leased));
  for (int64_t id : leased) {
    if (std::find(held.begin(), held.end(), id) == held.end()) {
      CheckStatus(store_->Release(record.name, id, now));
    }
  }
  workers_.Add(record, routing_id, clock_->SteadyMs());
  work_changed_ = true;
  log::Printf(log::Level::kInfo, "worker %s (pid %lld) %s, %zu attempt(s) kept",
               record.name.c_str(), static_cast<long long>(record.pid),
               same_session ? "reconnected" : "registered", held.size() - abandon.size());
  Reply(routing_id,
        wire::Make(wire::Command::kWelcome, {{"heartbeat_ms", options_.settings.heartbeat_ms},
                                              {"liveness", options_.settings.liveness},
                                              {"abandon", abandon}}),
        true);
}

void Broker::OnWorkerMessage(ConnectedWorker& w, const wire::Message& m) {
  const int64_t now = clock_->WallMs();
  const std::string name = w.record.name;
  switch (m.command) {
    case wire::Command::kReady: {
      int64_t slots = 0;
      Status s = wire::GetInt(m.body, "slots", &slots);
      if (!s.ok() || slots < 0) {
        Reply(w.routing_id, wire::MakeError("bad ready: field 'slots' must be a count"), false);
        return;
      }
      w.record.slots = slots;
      if (m.body.contains("prefetch")) {
        int64_t prefetch = 0;
        if (wire::GetInt(m.body, "prefetch", &prefetch).ok() && prefetch >= 0) {
          w.record.prefetch = prefetch;
        }
      }
      CheckStatus(store_->SetWorkerSlots(name, slots));
      work_changed_ = true;
      return;
    }
    case wire::Command::kHeartbeat: {
      std::vector<int64_t> held, queued, not_held;
      if (!wire::GetIntList(m.body, "running", &held).ok() ||
          !wire::GetIntList(m.body, "queued", &queued).ok()) {
        Reply(w.routing_id,
              wire::MakeError("bad heartbeat: fields 'running' and 'queued' must list attempt ids"),
              false);
        return;
      }
      w.last_heartbeat_ms = clock_->SteadyMs();
      CheckStatus(store_->Renew(name, held, now, &not_held));
      CheckStatus(store_->Renew(name, queued, now, &not_held, /*started=*/false));
      if (!not_held.empty()) {
        Reply(w.routing_id, wire::Make(wire::Command::kAbort, {{"attempts", not_held}}), true);
      }
      return;
    }
    case wire::Command::kResult: {
      AttemptResult r;
      int64_t exit_code = -1, signal = 0;
      Status s = wire::GetInt(m.body, "attempt", &r.attempt_id);
      if (s.ok()) s = wire::GetInt(m.body, "exit_code", &exit_code);
      if (s.ok() && m.body.contains("signal")) s = wire::GetInt(m.body, "signal", &signal);
      if (s.ok() && m.body.contains("error")) s = wire::GetString(m.body, "error", &r.error);
      if (s.ok() && m.body.contains("permanent")) {
        const auto& p = m.body["permanent"];
        if (p.is_boolean()) {
          r.permanent = p.get<bool>();
        } else {
          s = Status::Invalid("field 'permanent' must be true or false");
        }
      }
      if (!s.ok()) {
        Reply(w.routing_id, wire::MakeError("bad result: " + s.message()), false);
        return;
      }
      r.exit_code = static_cast<int>(exit_code);
      r.signal = static_cast<int>(signal);
      if (!m.blobs.empty()) r.stdout_bytes = m.blobs[0];
      bool applied = false;
      CheckStatus(store_->Complete(name, r, now, &applied));
      work_changed_ = true;
      acks_[w.routing_id].push_back(r.attempt_id);
      return;
    }
    case wire::Command::kRelease: {
      std::vector<int64_t> ids;
      if (!wire::GetIntList(m.body, "attempts", &ids).ok()) {
        Reply(w.routing_id, wire::MakeError("bad release: field 'attempts' must list attempt ids"), false);
        return;
      }
      for (int64_t id : ids) CheckStatus(store_->Release(name, id, now));
      work_changed_ = true;
      return;
    }
    case wire::Command::kGoodbye: {
      int released = 0;
      CheckStatus(store_->WorkerGone(name, now, &released));
      log::Printf(log::Level::kInfo, "worker %s left (%d attempt(s) released)", name.c_str(),
                   released);
      // Acknowledged after the commit: until then the worker waits (and,
      // after a broker restart, registers and says goodbye again).
      Reply(w.routing_id, wire::Make(wire::Command::kAck, {{"attempts", nlohmann::json::array()},
                                                           {"goodbye", true}}),
            true);
      workers_.Remove(name);
      work_changed_ = true;
      return;
    }
    default:
      return;
  }
}

void Broker::OnLostNotice(const std::string& routing_id, const wire::Message& m) {
  std::string name, session, why;
  int64_t pid = 0;
  Status s = wire::GetString(m.body, "name", &name);
  if (s.ok()) s = wire::GetInt(m.body, "pid", &pid);
  if (s.ok() && m.body.contains("session")) s = wire::GetString(m.body, "session", &session);
  if (s.ok() && m.body.contains("why")) s = wire::GetString(m.body, "why", &why);
  const nlohmann::json id = m.body.value("id", nlohmann::json(nullptr));
  if (!s.ok()) {
    Reply(routing_id, wire::MakeError("bad lost notice: " + s.message(), id), false);
    return;
  }
  // The session, when given, makes sure it is that process: pids repeat
  // across containers.
  WorkerRecord row;
  std::string state;
  if (store_->FindWorker(name, &row, &state).ok() && row.pid == pid &&
      (state == ToText(WorkerState::kAlive) || state == ToText(WorkerState::kLost)) &&
      (session.empty() || session == row.session)) {
    // A death, seen: what it held is blamed at once, and so are the losses
    // suspected when it went silent before its nanny could tell.
    if (state == ToText(WorkerState::kAlive)) {
      LoseWorker(name, why.empty() ? "its nanny saw process " + std::to_string(pid) + " die" : why,
                 rules::BlameOf(rules::LossCause::kProcessDied));
    }
    int confirmed = 0;
    CheckStatus(store_->ConfirmDeaths(name, clock_->WallMs(), &confirmed));
    work_changed_ = true;
  }
  Reply(routing_id, wire::Make(wire::Command::kReply, {{"id", id}}), true);
}

}  // namespace leaseq
