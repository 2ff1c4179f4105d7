#include "broker/http/api.h"

#include <algorithm>

#include "broker/http/read_txn.h"
#include "broker/store.h"

namespace leaseq {

namespace {

nlohmann::json Events(const std::deque<TaskEvent>& events) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : events) {
    out.push_back({{"at", e.at_ms}, {"key", e.key}, {"worker", e.worker}, {"what", e.what}});
  }
  return out;
}

}  // namespace

Status ApiStatus(Store& reader, const BrokerMetrics::Values& v, int64_t now_ms, bool writable,
                 nlohmann::json* out) {
  nlohmann::json counts, workers;
  std::map<std::string, QueueStatus> queues;
  int64_t delayed = 0;
  {
    ReadTxn txn(reader);
    if (!txn.status().ok()) return txn.status();
    Status s = reader.ReloadPausedQueues();
    if (s.ok()) s = reader.Counts(&counts, &workers);
    if (s.ok()) s = reader.DelayedCount(now_ms, &delayed);
    if (s.ok()) s = reader.QueueStatuses(&queues);
    if (!s.ok()) return s;
  }
  nlohmann::json qs = nlohmann::json::array();
  for (const auto& [name, q] : queues) {
    nlohmann::json j = {{"queue", name}, {"counts", q.counts}, {"paused", q.paused}};
    j["oldest_queued_age_ms"] =
        q.oldest_queued_created_at > 0 ? std::max<int64_t>(0, now_ms - q.oldest_queued_created_at) : 0;
    qs.push_back(std::move(j));
  }
  *out = {{"now", now_ms},
          {"started_at", v.started_ms},
          {"writable", writable},
          {"counts", counts},
          {"delayed", delayed},
          {"workers", workers},
          {"queues", qs},
          {"totals",
           {{"done", v.done},
            {"failed", v.failed},
            {"cancelled", v.cancelled},
            {"retried", v.retried_auto + v.retried_manual},
            {"workers_lost", v.workers_lost},
            {"leases_reclaimed", v.leases_reclaimed},
            {"failed_by_suspicion", v.failed_by_suspicion},
            {"attempts", v.attempts},
            {"commits", v.commits}}},
          {"recent_failures", Events(v.failures)},
          {"recent_losses", Events(v.losses)}};
  return Status::Ok();
}

Status ApiWorkers(Store& reader, const BrokerMetrics::Values& v, int64_t offset, int64_t limit,
                  nlohmann::json* out) {
  nlohmann::json all;
  {
    ReadTxn txn(reader);
    if (!txn.status().ok()) return txn.status();
    Status s = reader.Workers(&all);
    if (!s.ok()) return s;
  }
  offset = std::clamp<int64_t>(offset, 0, static_cast<int64_t>(all.size()));
  limit = std::clamp<int64_t>(limit, 1, 1000);
  nlohmann::json page = nlohmann::json::array();
  for (int64_t i = offset; i < static_cast<int64_t>(all.size()) && i < offset + limit; ++i) {
    nlohmann::json w = all[i];
    auto it = v.lost_by_worker.find(w.value("name", ""));
    w["lost_count"] = it == v.lost_by_worker.end() ? 0 : it->second;
    page.push_back(std::move(w));
  }
  *out = {{"total", all.size()}, {"offset", offset}, {"limit", limit}, {"workers", page}};
  return Status::Ok();
}

Status ApiTasks(Store& reader, const std::string& state, const std::string& queue, int64_t limit,
                nlohmann::json* out) {
  ListFilter f;
  f.state = state;
  f.queue = queue;
  f.limit = std::clamp<int64_t>(limit, 1, 1000);
  std::vector<TaskRow> rows;
  {
    ReadTxn txn(reader);
    if (!txn.status().ok()) return txn.status();
    Status s = reader.List(f, &rows);
    if (!s.ok()) return s;
  }
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& r : rows) {
    tasks.push_back({{"key", r.key},
                     {"state", r.state},
                     {"queue", r.queue},
                     {"fn", r.fn},
                     {"attempts", r.attempts},
                     {"created_at", r.created_at},
                     {"updated_at", r.updated_at},
                     {"error", r.error}});
  }
  *out = {{"tasks", tasks}};
  return Status::Ok();
}

Status ApiTask(Store& reader, const std::string& key, nlohmann::json* out) {
  ReadTxn txn(reader);
  if (!txn.status().ok()) return txn.status();
  return reader.Show(key, out);
}

Status Health(Store& reader, const BrokerMetrics::Values& v, int64_t steady_now_ms,
              int64_t max_quiet_ms) {
  {
    ReadTxn txn(reader);
    if (!txn.status().ok()) return Status::Unavailable("cannot read the database: " + txn.status().message());
    nlohmann::json counts, workers;
    Status s = reader.Counts(&counts, &workers);
    if (!s.ok()) return Status::Unavailable("cannot read the database: " + s.message());
  }
  if (!v.last_commit_error.empty()) {
    return Status::Unavailable("the broker's last commit failed: " + v.last_commit_error);
  }
  if (v.last_commit_steady_ms == 0 || steady_now_ms - v.last_commit_steady_ms > max_quiet_ms) {
    return Status::Unavailable("the broker loop has not committed for " +
                               std::to_string(max_quiet_ms / 1000) + " s or more");
  }
  return Status::Ok();
}

}  // namespace leaseq
