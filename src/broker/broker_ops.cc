// Broker: operators' requests (leaseq-ctl status per queue, list, pause,
// resume, retry --state, cancel --queue, purge). Each is one bounded batch
// inside the pass's transaction; its reply goes out after the commit.
#include <algorithm>

#include "broker/broker.h"

namespace leaseq {

namespace field = wire::field;

namespace {

// Tasks changed or deleted by one batch of a bulk request: a few ms of the
// loop (a purge of 100 tasks took 3.7 ms, median, on the 2-vCPU machine of
// docs/benchmarks.md), so dispatch never waits long; the client sends the
// next batch.
constexpr int kBulkBatch = 100;
// Free pages given back to the file system after a purge batch (moving 200
// pages took well under 1 ms).
constexpr int kVacuumPages = 200;
constexpr int64_t kMaxListLimit = 10000;

Status OptionalString(const nlohmann::json& body, const char* field, std::string* out) {
  out->clear();
  if (!body.contains(field) || body[field].is_null()) return Status::Ok();
  return wire::GetString(body, field, out);
}

Status RequiredQueue(const nlohmann::json& body, std::string* queue) {
  Status s = wire::GetString(body, field::kQueue, queue);
  if (s.ok() && queue->empty()) s = Status::Invalid("field 'queue' must name a queue");
  return s;
}

nlohmann::json CursorJson(const ScanCursor& c) {
  return {{"bound", c.bound}, {"started", c.started},       {"queue", c.queue},
          {"updated_at", c.updated_at}, {"id", c.id}, {"swept", c.swept}};
}

// The cursor a client sends back: ours, unread; anything else is refused.
Status ParseCursor(const nlohmann::json& body, ScanCursor* c) {
  auto it = body.find(field::kCursor);
  if (it == body.end() || it->is_null()) return Status::Ok();
  const nlohmann::json& j = *it;
  if (!j.is_object() || !j.value("bound", nlohmann::json()).is_number_integer() ||
      !j.value("started", nlohmann::json()).is_boolean() ||
      !j.value("queue", nlohmann::json()).is_string() ||
      !j.value("updated_at", nlohmann::json()).is_number_integer() ||
      !j.value("id", nlohmann::json()).is_number_integer() ||
      !j.value("swept", nlohmann::json()).is_number_integer()) {
    return Status::Invalid("field 'cursor' is not one this broker gave");
  }
  c->bound = j["bound"].get<int64_t>();
  c->started = j["started"].get<bool>();
  c->queue = j["queue"].get<std::string>();
  c->updated_at = j["updated_at"].get<int64_t>();
  c->id = j["id"].get<int64_t>();
  c->swept = j["swept"].get<int64_t>();
  return Status::Ok();
}

}  // namespace

Status Broker::OnOpsRequest(const wire::Message& m, nlohmann::json* reply, bool* needs_commit) {
  switch (m.command) {
    case wire::Command::kPause:
    case wire::Command::kResume: {
      std::string queue;
      Status s = RequiredQueue(m.body, &queue);
      bool changed = false;
      if (s.ok() && m.command == wire::Command::kPause) {
        s = store_->Pause(queue, clock_->WallMs(), &changed);
      } else if (s.ok()) {
        s = store_->Resume(queue, &changed);
        work_changed_ = true;  // its queued tasks may go out now
      }
      (*reply)[field::kQueue] = queue;
      (*reply)[field::kChanged] = changed;
      (*reply)[field::kPaused] = store_->paused_queues();
      *needs_commit = true;
      return s;
    }
    case wire::Command::kList:
      return List(m, reply);
    case wire::Command::kPurge:
      *needs_commit = true;
      return Purge(m, reply);
    case wire::Command::kBackup:
      return Backup(m, reply);
    default:
      return Status::Invalid("not an operator's request");
  }
}

std::string Broker::Unservable(const std::string& queue, const std::string& fn) const {
  bool queue_served = false;
  for (const auto& [name, w] : workers_.all()) {
    const auto& qs = w.record.queues;
    if (std::find(qs.begin(), qs.end(), queue) == qs.end()) continue;
    queue_served = true;
    const auto& fns = w.record.fns;
    if (fn.empty() || std::find(fns.begin(), fns.end(), fn) != fns.end()) return "";
  }
  if (!queue_served) return "no live worker serves queue " + queue;
  return "no live worker of queue " + queue + " has function '" + fn + "'";
}

Status Broker::AddQueueStatus(nlohmann::json* reply) {
  std::map<std::string, QueueStatus> queues;
  Status s = store_->QueueStatuses(&queues);
  if (!s.ok()) return s;
  const int64_t now = clock_->WallMs();
  nlohmann::json out = nlohmann::json::object();
  nlohmann::json unservable = nlohmann::json::array();
  for (const auto& [name, q] : queues) {
    nlohmann::json j = {{field::kCounts, q.counts}, {field::kPaused, q.paused}};
    if (q.oldest_queued_created_at > 0) {
      j["oldest_queued_age_ms"] = std::max<int64_t>(0, now - q.oldest_queued_created_at);
    }
    out[name] = std::move(j);
    for (const auto& [fn, n] : q.queued_by_fn) {
      if (n == 0) continue;
      const std::string why = Unservable(name, fn);
      if (why.empty()) continue;
      nlohmann::json u = {{field::kQueue, name}, {field::kQueued, n}, {"reason", why}};
      u[field::kFn] = fn.empty() ? nlohmann::json(nullptr) : nlohmann::json(fn);
      unservable.push_back(std::move(u));
    }
  }
  (*reply)[field::kQueues] = std::move(out);
  (*reply)[field::kPaused] = store_->paused_queues();
  (*reply)[field::kUnservable] = std::move(unservable);
  return Status::Ok();
}

Status Broker::List(const wire::Message& m, nlohmann::json* reply) {
  ListFilter f;
  Status s = OptionalString(m.body, field::kState, &f.state);
  if (s.ok()) s = OptionalString(m.body, field::kQueue, &f.queue);
  if (s.ok() && m.body.contains(field::kLimit)) s = wire::GetInt(m.body, field::kLimit, &f.limit);
  if (s.ok() && (f.limit < 0 || f.limit > kMaxListLimit)) {
    s = Status::Invalid("field 'limit' must be from 0 to " + std::to_string(kMaxListLimit));
  }
  if (s.ok() && !f.state.empty() && !IsTaskState(f.state)) {
    s = Status::Invalid("unknown state '" + f.state +
                        "' (waiting, queued, running, done, failed or cancelled)");
  }
  std::vector<TaskRow> rows;
  if (s.ok()) s = store_->List(f, &rows);
  if (!s.ok()) return s;
  const int64_t now = clock_->WallMs();
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json t = {{field::kKey, r.key},
                        {field::kState, r.state},
                        {field::kQueue, r.queue},
                        {field::kAttempts, r.attempts},
                        {"created_at", r.created_at},
                        {"updated_at", r.updated_at},
                        {"age_ms", std::max<int64_t>(0, now - r.updated_at)},
                        {field::kError, r.error}};
    if (!r.fn.empty()) t[field::kFn] = r.fn;
    if (TaskStateFromText(r.state) == TaskState::kQueued) {
      if (store_->paused_queues().count(r.queue) > 0) {
        t[field::kPaused] = true;
      } else if (std::string why = Unservable(r.queue, r.fn); !why.empty()) {
        t[field::kUnservable] = why;
      }
    }
    tasks.push_back(std::move(t));
  }
  // How many match in all, from the counters (no count(*) over tasks).
  std::map<std::string, QueueStatus> queues;
  s = store_->QueueStatuses(&queues, /*with_oldest=*/false);
  if (!s.ok()) return s;
  int64_t total = 0;
  for (const auto& [name, q] : queues) {
    if (!f.queue.empty() && name != f.queue) continue;
    for (const auto& [state, n] : q.counts) {
      if (f.state.empty() || state == f.state) total += n;
    }
  }
  (*reply)[field::kTasks] = std::move(tasks);
  (*reply)[field::kTotal] = total;
  return Status::Ok();
}

void Broker::SendAborts(const std::vector<LeasedAttempt>& aborts) {
  for (const auto& a : aborts) {
    if (ConnectedWorker* w = workers_.ByName(a.worker)) {
      Reply(w->routing_id, wire::Make(wire::Command::kAbort, {{field::kAttempts, {a.attempt_id}}}), true);
    }
  }
}

Status Broker::BulkRetry(const wire::Message& m, nlohmann::json* reply) {
  std::string state, queue;
  ScanCursor cursor;
  // Tasks that fail again while the batches go on are newer than this.
  cursor.bound = clock_->WallMs() + 1;
  Status s = wire::GetString(m.body, field::kState, &state);
  if (s.ok()) s = OptionalString(m.body, field::kQueue, &queue);
  if (s.ok()) s = ParseCursor(m.body, &cursor);
  int64_t changed = 0;
  bool more = false;
  if (s.ok()) {
    s = store_->RetryMatching(state, queue, kBulkBatch, clock_->WallMs(), &cursor, &changed, &more);
  }
  (*reply)[field::kCount] = changed;
  (*reply)[field::kMore] = more;
  (*reply)[field::kCursor] = CursorJson(cursor);
  return s;
}

Status Broker::BulkCancel(const wire::Message& m, nlohmann::json* reply) {
  std::string queue;
  Status s = RequiredQueue(m.body, &queue);
  int64_t changed = 0;
  bool more = false;
  std::vector<LeasedAttempt> aborts;
  if (s.ok()) s = store_->CancelQueue(queue, kBulkBatch, clock_->WallMs(), &changed, &aborts, &more);
  SendAborts(aborts);
  (*reply)[field::kCount] = changed;
  (*reply)[field::kMore] = more;
  return s;
}

Status Broker::Purge(const wire::Message& m, nlohmann::json* reply) {
  std::string state, queue;
  int64_t older_than = 0;
  Status s = wire::GetString(m.body, field::kState, &state);
  if (s.ok()) s = OptionalString(m.body, field::kQueue, &queue);
  if (s.ok() && m.body.contains(field::kOlderThanMs)) {
    s = wire::GetInt(m.body, field::kOlderThanMs, &older_than);
  }
  if (s.ok() && older_than < 0) s = Status::Invalid("field 'older_than_ms' must not be negative");
  ScanCursor cursor;
  cursor.bound = clock_->WallMs() - older_than;  // ended before this
  if (s.ok()) s = ParseCursor(m.body, &cursor);
  int64_t deleted = 0;
  bool more = false;
  if (s.ok()) s = store_->Purge(state, queue, kBulkBatch, &cursor, &deleted, &more);
  if (s.ok() && deleted > 0) s = store_->ReclaimFreePages(kVacuumPages);
  (*reply)[field::kDeleted] = deleted;
  (*reply)[field::kMore] = more;
  (*reply)[field::kCursor] = CursorJson(cursor);
  return s;
}

}  // namespace leaseq
