// Broker: what workers (and nannies) say.
#include <algorithm>
#include <cstdio>

#include "broker/broker.h"
#include "broker/plain_results.h"
#include "common/log.h"
#include "common/wire_batch.h"

namespace leaseq {

namespace field = wire::field;

namespace {

// workers.last_seen_at of a worker that holds nothing is written at most this
// often (docs/semantics.md): its heartbeats renew no lease.
constexpr int64_t kLastSeenWriteMs = 10000;

Status ParseWorkerRecord(const nlohmann::json& body, WorkerRecord* w) {
  Status s = wire::GetString(body, field::kName, &w->name);
  if (s.ok()) s = wire::GetString(body, field::kSession, &w->session);
  if (s.ok()) s = wire::GetInt(body, field::kPid, &w->pid);
  if (s.ok()) s = wire::GetInt(body, field::kSlots, &w->slots);
  if (s.ok() && body.contains(field::kPrefetch)) s = wire::GetInt(body, field::kPrefetch, &w->prefetch);
  if (s.ok() && w->prefetch < 0) s = Status::Invalid("field 'prefetch' must not be negative");
  if (s.ok()) s = wire::GetStringList(body, field::kQueues, &w->queues);
  if (s.ok()) s = wire::GetStringList(body, field::kFns, &w->fns);
  if (s.ok() && body.contains(field::kHost)) s = wire::GetString(body, field::kHost, &w->host);
  if (s.ok() && (w->name.empty() || w->session.empty())) s = Status::Invalid("empty name or session");
  if (s.ok() && w->slots < 0) s = Status::Invalid("field 'slots' must not be negative");
  if (s.ok() && w->queues.empty()) w->queues = {"default"};
  return s;
}

}  // namespace

void Broker::Handle(const std::string& routing_id, wire::Message m) {
  // Who sent it follows from its command (wire_messages.def): a command
  // only the broker sends is refused, and so is a body not as declared.
  Status s = wire::CheckSender(wire::Role::kBroker, m.command);
  const wire::Role sender = wire::SenderAtBroker(m.command);
  if (s.ok() && sender == wire::Role::kWorker && m.command != wire::Command::kRegister) {
    ConnectedWorker* w = workers_.ByRoutingId(routing_id);
    if (w == nullptr) {
      // After a broker restart, or after this worker was declared lost.
      Reply(routing_id, wire::Make(wire::Command::kReregister), false);
      return;
    }
    w->last_heard_ms = clock_->SteadyMs();
    w->unreachable = false;
    // A `results` body may still be text: OnResults reads and checks it.
    if (m.command == wire::Command::kResults && !m.body_text.empty()) return OnResults(*w, std::move(m));
    s = wire::CheckBody(m.command, m.body);
    if (s.ok() && m.command == wire::Command::kResults) return OnResults(*w, std::move(m));
    if (s.ok()) return OnWorkerMessage(*w, m);
  } else if (s.ok()) {
    s = wire::CheckBody(m.command, m.body);
  }
  if (!s.ok()) {
    Reply(routing_id, wire::MakeError(s.message(), m.body.value(field::kId, nlohmann::json(nullptr))),
          false);
    return;
  }
  switch (sender) {
    case wire::Role::kWorker:
      return OnRegister(routing_id, m);
    case wire::Role::kNanny:
      return OnLostNotice(routing_id, m);
    default:
      return OnRequest(routing_id, m);
  }
}

rules::NameHolder Broker::NameHolderOf(const std::string& name) {
  using State = rules::NameHolder::State;
  rules::NameHolder h;
  if (ConnectedWorker* c = workers_.ByName(name)) {
    const int64_t now = clock_->SteadyMs();
    bool silent = c->Silent(options_.settings, now);
    if (!silent && c->idle && !c->unreachable &&
        rules::WorkerSilent(options_.settings, c->last_heard_ms, now)) {
      // An idle holder is judged by the longer silence, but a new process
      // under its name is most often its restart after a crash: if its
      // connection is gone (a send to it fails), it is judged as any other.
      if (port_->Send(c->routing_id, wire::Make(wire::Command::kHeartbeat))) {
        c->last_sent_ms = now;
      } else {
        c->unreachable = true;
        silent = c->Silent(options_.settings, now);
      }
    }
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
  if (s.ok()) s = wire::GetIntList(m.body, field::kRunning, &held);
  if (s.ok()) s = wire::GetIntList(m.body, field::kQueued, &queued);
  if (s.ok() && m.body.contains(field::kNanny)) s = wire::GetString(m.body, field::kNanny, &nanny);
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
  // A register repeated on the connection that already welcomed this
  // session (sent again while unanswered, then delivered in a burst after
  // a partition) lists what the worker held when it was sent: tasks leased
  // since may still be on their way to it.
  const ConnectedWorker* current = workers_.ByName(record.name);
  const bool repeated = current != nullptr && current->routing_id == routing_id &&
                        current->record.session == record.session;
  bool same_session = false;
  const auto batch = m.body.find(field::kBatch);
  CheckStatus(store_->RegisterWorker(record, now, &same_session));
  // Keep the attempts it still holds; release those leased to it that it
  // does not hold (never delivered): they were never started, so no blame.
  std::vector<int64_t> abandon, leased;
  CheckStatus(store_->Renew(record.name, held, now, &abandon));
  CheckStatus(store_->Renew(record.name, queued, now, &abandon, /*started=*/false));
  held.insert(held.end(), queued.begin(), queued.end());
  // When they are kept, the next heartbeat renews what it holds; the rest lapses.
  if (rules::RegisterReleasesUnlisted(repeated)) {
    CheckStatus(store_->RunningAttemptsOf(record.name, &leased));
    for (int64_t id : leased) {
      if (std::find(held.begin(), held.end(), id) == held.end()) {
        CheckStatus(store_->Release(record.name, id, now));
      }
    }
  }
  ConnectedWorker& added = workers_.Add(record, routing_id, clock_->SteadyMs());
  added.batch = batch != m.body.end() && batch->is_boolean() && batch->get<bool>();
  // An idle rate only if it can and ours is slower (a factor above 1).
  const auto idle = m.body.find(field::kIdleHeartbeats);
  added.idle_heartbeats = idle != m.body.end() && idle->is_boolean() && idle->get<bool>() &&
                          options_.settings.idle_heartbeat_factor > 1;
  work_changed_ = true;
  // A register repeated on the same connection that abandons nothing
  // changes nothing: an idle worker sends one before a task that may have
  // waited on the way (docs/protocol.md), often, so it is not logged.
  if (!repeated || !abandon.empty()) {
    log::Printf(log::Level::kInfo, "worker %s (pid %lld) %s, %zu attempt(s) kept",
                record.name.c_str(), static_cast<long long>(record.pid),
                repeated ? "registered again on the same connection"
                         : same_session ? "reconnected" : "registered",
                held.size() - abandon.size());
  }
  nlohmann::json welcome = {{field::kHeartbeatMs, options_.settings.heartbeat_ms},
                             {field::kLiveness, options_.settings.liveness},
                             {field::kAbandon, abandon},
                             {field::kBatch, true}};
  if (added.idle_heartbeats) welcome[field::kIdleHeartbeatMs] = rules::IdleHeartbeatMs(options_.settings);
  // The worker tells a welcome to this register from one to an older one.
  if (m.body.contains(field::kSeq)) welcome[field::kSeq] = m.body[field::kSeq];
  Reply(routing_id, wire::Make(wire::Command::kWelcome, std::move(welcome)), true);
}

void Broker::OnWorkerMessage(ConnectedWorker& w, const wire::Message& m) {
  const int64_t now = clock_->WallMs();
  const std::string name = w.record.name;
  switch (m.command) {
    case wire::Command::kReady: {
      int64_t slots = 0;
      Status s = wire::GetInt(m.body, field::kSlots, &slots);
      if (!s.ok() || slots < 0) {
        Reply(w.routing_id, wire::MakeError("bad ready: field 'slots' must be a count"), false);
        return;
      }
      w.record.slots = slots;
      if (m.body.contains(field::kPrefetch)) {
        int64_t prefetch = 0;
        if (wire::GetInt(m.body, field::kPrefetch, &prefetch).ok() && prefetch >= 0) {
          if (prefetch == 0 && w.record.prefetch > 0 && slots > 0) w.prefetch_dropped_ms = clock_->SteadyMs();
          w.record.prefetch = prefetch;
        }
      }
      CheckStatus(store_->SetWorkerSlots(name, slots));
      work_changed_ = true;
      return;
    }
    case wire::Command::kHeartbeat: {
      std::vector<int64_t> held, queued, not_held;
      if (!wire::GetIntList(m.body, field::kRunning, &held).ok() ||
          !wire::GetIntList(m.body, field::kQueued, &queued).ok()) {
        Reply(w.routing_id,
              wire::MakeError("bad heartbeat: fields 'running' and 'queued' must list attempt ids"),
              false);
        return;
      }
      w.last_heartbeat_ms = clock_->SteadyMs();
      // Holding nothing, a worker that can goes to the idle rate after this
      // heartbeat (and so do ours to it).
      w.HeardHolding(!held.empty() || !queued.empty());
      if (held.empty() && queued.empty() &&
          w.last_heartbeat_ms - w.last_seen_written_ms < kLastSeenWriteMs) {
        return;  // an idle worker: nothing to renew, last_seen_at is recent enough
      }
      w.last_seen_written_ms = w.last_heartbeat_ms;
      CheckStatus(store_->Renew(name, held, now, &not_held));
      CheckStatus(store_->Renew(name, queued, now, &not_held, /*started=*/false));
      if (!not_held.empty()) {
        Reply(w.routing_id, wire::Make(wire::Command::kAbort, {{field::kAttempts, not_held}}), true);
      }
      return;
    }
    case wire::Command::kResult: {
      AttemptResult r;
      Status s = ParseResult(m, &r);
      if (!s.ok()) {
        Reply(w.routing_id, wire::MakeError("bad result: " + s.message()), false);
        return;
      }
      if (!m.blobs.empty()) r.stdout_bytes = m.blobs[0];
      bool applied = false;
      CheckStatus(store_->Complete(name, r, now, &applied));
      work_changed_ = true;
      acks_[w.routing_id].push_back(r.attempt_id);
      return;
    }
    case wire::Command::kRelease: {
      std::vector<int64_t> ids;
      if (!wire::GetIntList(m.body, field::kAttempts, &ids).ok()) {
        Reply(w.routing_id, wire::MakeError("bad release: field 'attempts' must list attempt ids"), false);
        return;
      }
      for (int64_t id : ids) CheckStatus(store_->Release(name, id, now));
      const int64_t steady = clock_->SteadyMs();
      if (!ids.empty() &&
          PrefetchHold::IsHandBack(w.record.slots, w.record.prefetch, w.prefetch_dropped_ms, steady)) {
        // Its slots all run long tasks: so may the ones it hands back.
        prefetch_hold_.HandedBack(w.record.queues, steady);
        w.prefetch_dropped_ms = 0;
      }
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
      Reply(w.routing_id, wire::Make(wire::Command::kAck, {{field::kAttempts, nlohmann::json::array()},
                                                           {field::kGoodbye, true}}),
            true);
      workers_.Remove(name);
      work_changed_ = true;
      return;
    }
    default:
      return;
  }
}

void Broker::OnResults(ConnectedWorker& w, wire::Message m) {
  if (!m.body_text.empty()) {
    // As leaseq-worker writes them: read without a json tree.
    std::vector<AttemptResult> plain;
    if (ReadPlainResults(m.body_text, &m.blobs, &plain)) return StoreResults(w, std::move(plain));
    // Anything else is parsed and judged as any body.
    Status parsed = wire::ParseBody(m.command, m.body_text, &m.body);
    if (parsed.ok()) parsed = wire::CheckBody(m.command, m.body);
    if (!parsed.ok()) {
      Reply(w.routing_id, wire::MakeError(parsed.message()), false);
      return;
    }
    m.body_text.clear();
  }
  std::vector<wire::Message> items;
  Status s = wire::Unpack(std::move(m), &items);
  if (!s.ok()) {  // whose blob is whose is unknown: none of it is used
    Reply(w.routing_id, wire::MakeError(s.message()), false);
    return;
  }
  std::vector<AttemptResult> results;
  results.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    // As if it had come alone: one bad result does not take the others.
    AttemptResult r;
    s = wire::CheckBody(wire::Command::kResult, items[i].body);
    if (s.ok()) s = ParseResult(items[i], &r);
    if (!s.ok()) {
      Reply(w.routing_id, wire::MakeError("results: item " + std::to_string(i) + ": " + s.message()),
            false);
      continue;
    }
    if (!items[i].blobs.empty()) r.stdout_bytes = std::move(items[i].blobs[0]);
    results.push_back(std::move(r));
  }
  StoreResults(w, std::move(results));
}

void Broker::StoreResults(ConnectedWorker& w, std::vector<AttemptResult> results) {
  for (const AttemptResult& r : results) acks_[w.routing_id].push_back(r.attempt_id);
  if (results.empty()) return;
  // Stored together (Store::CompleteAll), as each would be alone.
  CheckStatus(store_->CompleteAll(w.record.name, results, clock_->WallMs()));
  work_changed_ = true;
}

Status Broker::ParseResult(const wire::Message& m, AttemptResult* r) {
  int64_t exit_code = -1, signal = 0;
  Status s = wire::GetInt(m.body, field::kAttempt, &r->attempt_id);
  if (s.ok()) s = wire::GetInt(m.body, field::kExitCode, &exit_code);
  if (s.ok() && m.body.contains(field::kSignal)) s = wire::GetInt(m.body, field::kSignal, &signal);
  if (s.ok() && m.body.contains(field::kError)) s = wire::GetString(m.body, field::kError, &r->error);
  if (s.ok() && m.body.contains(field::kPermanent)) {
    const auto& p = m.body[field::kPermanent];
    if (p.is_boolean()) {
      r->permanent = p.get<bool>();
    } else {
      s = Status::Invalid("field 'permanent' must be true or false");
    }
  }
  if (!s.ok()) return s;
  r->exit_code = static_cast<int>(exit_code);
  r->signal = static_cast<int>(signal);
  return Status::Ok();
}

void Broker::OnLostNotice(const std::string& routing_id, const wire::Message& m) {
  std::string name, session, why;
  int64_t pid = 0;
  Status s = wire::GetString(m.body, field::kName, &name);
  if (s.ok()) s = wire::GetInt(m.body, field::kPid, &pid);
  if (s.ok() && m.body.contains(field::kSession)) s = wire::GetString(m.body, field::kSession, &session);
  if (s.ok() && m.body.contains(field::kWhy)) s = wire::GetString(m.body, field::kWhy, &why);
  const nlohmann::json id = m.body.value(field::kId, nlohmann::json(nullptr));
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
  Reply(routing_id, wire::Make(wire::Command::kReply, {{field::kId, id}}), true);
}

}  // namespace leaseq
