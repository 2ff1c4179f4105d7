// Broker: requests from leaseq-submit and leaseq-ctl.
#include <algorithm>
#include <string_view>

#include "broker/broker.h"
#include "common/log.h"

namespace leaseq {

namespace field = wire::field;

namespace {
// Submissions at least this large are followed by malloc_trim().
constexpr int64_t kTrimAfterTasks = 1000;
// `states` names at most this many failed tasks (what a wait prints).
constexpr int64_t kMaxNamedFailures = 100;
// A submission looks at the clock once per this many tasks (a power of 2).
constexpr int64_t kClockEveryTasks = 1024;
// A submission that held the loop at least this long gives the workers and
// their leases that time back (ForgiveStall).
constexpr int64_t kStallMs = 100;
}  // namespace

void Broker::ForgiveStall(int64_t stalled_ms) {
  // The loop read no message while it stored the submission: the workers'
  // heartbeats and renewals of that time wait in the socket. Their silence
  // was ours, so it must not make a worker lost or a lease lapse before
  // those messages are read: each connected worker is taken as heard that
  // much later, every running lease gets a full lifetime from now, and the
  // reclaim check waits for a later pass, after the waiting messages.
  // The commit of the submission follows: every worker gets a heartbeat
  // now, not up to one interval before.
  const int64_t now = clock_->SteadyMs();
  for (auto& [name, w] : workers_.all()) w.last_heard_ms = std::min(now, w.last_heard_ms + stalled_ms);
  HeartbeatEveryWorker();
  heartbeat_after_commit_ = true;  // and again once that commit is done
  CheckStatus(store_->HonourLeases(rules::LeaseExpiry(options_.settings, clock_->WallMs())));
  last_reclaim_ms_ = now;
  log::Printf(log::Level::kInfo,
              "a submission held the loop for %lld ms: workers and leases given that time back",
              static_cast<long long>(stalled_ms));
}

Status Broker::Submit(const wire::Message& m, nlohmann::json* reply) {
  // Two forms (docs/protocol.md): tasks[] in the body, or JSON Lines in
  // blob 0. The second is parsed a line at a time as it is stored, so a
  // million tasks cost the broker their text, not a JSON tree of them.
  auto it = m.body.find(field::kTasks);
  const bool lines = it == m.body.end() && !m.blobs.empty();
  if (!lines && (it == m.body.end() || !it->is_array())) {
    return Status::Invalid("field 'tasks' must be a list (or blob 0 JSON Lines)");
  }
  size_t i = 0;                  // tasks[]: the next element
  std::string_view rest;         // JSON Lines: what is left to read
  if (lines) rest = m.blobs[0];
  std::vector<std::string> keys;  // tasks[] only: echoed in the reply
  // A million tasks take the loop seconds: the workers keep getting their
  // heartbeats meanwhile (every half interval), or they would give the
  // broker up and reconnect.
  const int64_t started_ms = clock_->SteadyMs();
  int64_t beat_ms = started_ms, seen = 0;
  Store::TaskSource next = [&](TaskSpec* t, bool* done) {
    if ((++seen & (kClockEveryTasks - 1)) == 0) {
      const int64_t now = clock_->SteadyMs();
      if (now - beat_ms >= options_.settings.heartbeat_ms / 2) {
        SendHeartbeats();
        beat_ms = now;
      }
    }
    *t = TaskSpec();
    Status s;
    if (lines) {
      while (!rest.empty() && rest.front() == '\n') rest.remove_prefix(1);
      *done = rest.empty();
      if (*done) return Status::Ok();
      const size_t eol = std::min(rest.find('\n'), rest.size());
      s = ParseTaskLine(std::string(rest.substr(0, eol)), t);
      rest.remove_prefix(eol);
    } else {
      *done = i == it->size();
      if (*done) return Status::Ok();
      s = ParseTaskJson((*it)[i++], t);
      if (s.ok()) keys.push_back(t->key);
    }
    if (s.ok() && t->key.empty()) s = Status::Invalid("missing field 'key'");
    return s;
  };
  int bad_index = -1;
  int64_t count = 0;
  Status s = store_->Submit(next, clock_->WallMs(), &bad_index, &count);
  if (count >= kTrimAfterTasks) trim_memory_ = true;
  const int64_t stalled_ms = clock_->SteadyMs() - started_ms;
  if (stalled_ms >= kStallMs) ForgiveStall(stalled_ms);
  if (!s.ok()) {
    if (bad_index >= 0) (*reply)[field::kIndex] = bad_index;
    return s;
  }
  if (lines) {
    (*reply)[field::kCount] = count;
  } else {
    (*reply)[field::kKeys] = std::move(keys);
  }
  work_changed_ = true;
  return Status::Ok();
}

void Broker::OnRequest(const std::string& routing_id, const wire::Message& m) {
  const nlohmann::json id = m.body.value(field::kId, nlohmann::json(nullptr));
  nlohmann::json reply = {{field::kId, id}};
  std::vector<std::string> blobs;
  bool needs_commit = false;
  Status s;
  const int64_t now = clock_->WallMs();
  switch (m.command) {
    case wire::Command::kSubmit:
      s = Submit(m, &reply);
      needs_commit = true;
      break;
    case wire::Command::kStatus: {
      nlohmann::json counts, workers;
      int64_t delayed = 0;
      s = store_->Counts(&counts, &workers);
      if (s.ok()) s = store_->DelayedCount(now, &delayed);
      reply[field::kCounts] = counts;
      reply[field::kWorkers] = workers;
      reply[field::kDelayed] = delayed;  // of counts.queued: not before a future time
      if (s.ok()) s = AddQueueStatus(&reply);
      break;
    }
    case wire::Command::kWorkers: {
      nlohmann::json workers;
      s = store_->Workers(&workers);
      reply[field::kWorkers] = workers;
      break;
    }
    case wire::Command::kShow: {
      std::string key;
      nlohmann::json task;
      s = wire::GetString(m.body, field::kKey, &key);
      if (s.ok()) s = store_->Show(key, &task);
      reply[field::kTask] = task;
      break;
    }
    case wire::Command::kFetch: {
      std::string key, state, result;
      s = wire::GetString(m.body, field::kKey, &key);
      if (s.ok()) s = store_->Fetch(key, &state, &result);
      reply[field::kState] = state;
      if (TaskStateFromText(state) == TaskState::kDone) blobs.push_back(std::move(result));
      break;
    }
    case wire::Command::kStates: {
      std::vector<std::string> keys, missing;
      nlohmann::json counts, failed;
      int64_t failures = 0;  // how many failed keys to name (a wait's end)
      s = wire::GetStringList(m.body, field::kKeys, &keys);
      if (s.ok() && m.body.contains(field::kFailures)) {
        s = wire::GetInt(m.body, field::kFailures, &failures);
      }
      failures = std::clamp<int64_t>(failures, 0, kMaxNamedFailures);
      if (s.ok()) s = store_->States(keys, &counts, &missing, static_cast<int>(failures), &failed);
      reply[field::kCounts] = counts;
      reply[field::kMissing] = missing;
      if (failures > 0) reply[field::kFailures] = failed;
      break;
    }
    case wire::Command::kCancel: {
      if (!m.body.contains(field::kKeys)) {  // cancel --queue: one batch
        s = BulkCancel(m, &reply);
        needs_commit = true;
        work_changed_ = true;
        break;
      }
      std::vector<std::string> keys, changed;
      std::vector<LeasedAttempt> aborts;
      s = wire::GetStringList(m.body, field::kKeys, &keys);
      if (s.ok()) s = store_->Cancel(keys, now, &changed, &aborts);
      for (const auto& a : aborts) {
        if (ConnectedWorker* w = workers_.ByName(a.worker)) {
          Reply(w->routing_id,
                wire::Make(wire::Command::kAbort, {{field::kAttempts, {a.attempt_id}}}), true);
        }
      }
      reply[field::kChanged] = changed;
      needs_commit = true;
      work_changed_ = true;
      break;
    }
    case wire::Command::kRetry: {
      if (!m.body.contains(field::kKeys)) {  // retry --state: one batch
        s = BulkRetry(m, &reply);
        needs_commit = true;
        work_changed_ = true;
        break;
      }
      std::vector<std::string> keys, changed;
      s = wire::GetStringList(m.body, field::kKeys, &keys);
      if (s.ok()) s = store_->Retry(keys, now, &changed);
      reply[field::kChanged] = changed;
      needs_commit = true;
      work_changed_ = true;
      break;
    }
    case wire::Command::kPause:
    case wire::Command::kResume:
    case wire::Command::kList:
    case wire::Command::kPurge:
    case wire::Command::kBackup:
      s = OnOpsRequest(m, &reply, &needs_commit);
      break;
    default:
      s = Status::Invalid("command '" + std::string(wire::CommandName(m.command)) +
                          "' is not a request the broker takes");
  }
  if (s.ok()) {
    // A read that saw this pass's changes (a result taken before it) is
    // answered only if they are committed: otherwise it could show a task
    // done that the database does not hold.
    needs_commit = needs_commit || store_->ChangedTaskStates();
    Reply(routing_id, wire::Make(wire::Command::kReply, std::move(reply), std::move(blobs)), needs_commit);
    return;
  }
  // Store failures (full disk) spoil the pass; refusals (bad input) do not.
  // Unavailable: a trouble of the broker's that changed nothing here (a
  // backup that cannot be written, one already running): try again later.
  if (s.code() == Status::Code::kIoError) CheckStatus(s);
  nlohmann::json err = {{field::kMessage, s.message()}};
  if (!id.is_null()) err[field::kId] = id;
  if (s.code() == Status::Code::kIoError || s.code() == Status::Code::kUnavailable) {
    err[field::kUnavailable] = true;
  }
  if (reply.contains(field::kIndex)) err[field::kIndex] = reply[field::kIndex];
  Reply(routing_id, wire::Make(wire::Command::kError, std::move(err)), false);
}

}  // namespace leaseq
