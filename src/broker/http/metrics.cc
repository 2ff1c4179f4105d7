#include "broker/http/metrics.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "broker/http/read_txn.h"
#include "broker/store.h"

namespace leaseq {

namespace {

// Attempts by the outcome they ended with (running is not an end).
constexpr std::array<AttemptOutcome, 4> kEndings = {
    AttemptOutcome::kDone, AttemptOutcome::kError, AttemptOutcome::kLost, AttemptOutcome::kReleased};

// Label values: backslash, double quote and line feed escaped.
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Num(double v) {
  char buf[64];
  // Counts exactly; other values to 12 digits (a sum of milliseconds reads
  // 3.543, not 3.5430000000000006).
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.12g", v);
  }
  return buf;
}

class Writer {
 public:
  void Head(const std::string& name, const char* type, const char* help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, const std::string& labels, double v) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + Num(v) + "\n";
  }
  void Metric(const std::string& name, const char* type, const char* help, double v) {
    Head(name, type, help);
    Sample(name, "", v);
  }
  void Histo(const std::string& name, const std::string& labels, const Histogram& h) {
    const auto& bounds = Histogram::Bounds();
    const std::string sep = labels.empty() ? "" : labels + ",";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      if (i < h.buckets.size()) cumulative += h.buckets[i];
      char le[32];
      std::snprintf(le, sizeof le, "%g", bounds[i]);  // 0.1, not 0.10000000000000001
      Sample(name + "_bucket", sep + "le=\"" + le + "\"", static_cast<double>(cumulative));
    }
    Sample(name + "_bucket", sep + "le=\"+Inf\"", static_cast<double>(h.count));
    Sample(name + "_sum", labels, h.sum);
    Sample(name + "_count", labels, static_cast<double>(h.count));
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

}  // namespace

Status RenderMetrics(Store& reader, const BrokerMetrics::Values& v, const std::string& db_path,
                     int64_t now_ms, std::string* out) {
  std::map<std::string, QueueStatus> queues;
  nlohmann::json workers;
  {
    ReadTxn txn(reader);
    if (!txn.status().ok()) return txn.status();
    Status s = reader.ReloadPausedQueues();
    if (s.ok()) s = reader.QueueStatuses(&queues);
    if (s.ok()) s = reader.Workers(&workers);
    if (!s.ok()) return s;
  }
  Writer w;
  w.Head("leaseq_tasks", "gauge", "Tasks stored, by queue and state.");
  for (const auto& [queue, q] : queues) {
    for (TaskState task_state : kTaskStates) {
      const char* state = ToText(task_state);
      auto it = q.counts.find(state);
      w.Sample("leaseq_tasks", "queue=\"" + Escape(queue) + "\",state=\"" + state + "\"",
               it == q.counts.end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  w.Head("leaseq_queue_oldest_queued_age_seconds", "gauge",
         "Age of the oldest task queued and due in the queue (0 when none).");
  for (const auto& [queue, q] : queues) {
    const double age = q.oldest_queued_created_at > 0
                           ? std::max<int64_t>(0, now_ms - q.oldest_queued_created_at) / 1000.0
                           : 0.0;
    w.Sample("leaseq_queue_oldest_queued_age_seconds", "queue=\"" + Escape(queue) + "\"", age);
  }
  w.Head("leaseq_queue_paused", "gauge", "1 when the queue is paused (leaseq-ctl pause).");
  for (const auto& [queue, q] : queues) {
    w.Sample("leaseq_queue_paused", "queue=\"" + Escape(queue) + "\"", q.paused ? 1 : 0);
  }

  w.Metric("leaseq_tasks_done_total", "counter", "Tasks that ended done since the broker started.",
           static_cast<double>(v.done));
  w.Metric("leaseq_tasks_failed_total", "counter",
           "Tasks that ended failed since the broker started (errors, suspicion, failed dependencies).",
           static_cast<double>(v.failed));
  w.Metric("leaseq_tasks_cancelled_total", "counter", "Tasks cancelled since the broker started.",
           static_cast<double>(v.cancelled));
  w.Head("leaseq_tasks_retried_total", "counter",
         "Tasks put back in their queue since the broker started: after a failed attempt "
         "(trigger=\"error\"), or by an operator (trigger=\"operator\").");
  w.Sample("leaseq_tasks_retried_total", "trigger=\"error\"", static_cast<double>(v.retried_auto));
  w.Sample("leaseq_tasks_retried_total", "trigger=\"operator\"", static_cast<double>(v.retried_manual));
  w.Metric("leaseq_tasks_failed_by_suspicion_total", "counter",
           "Tasks failed because too many workers were lost while running them.",
           static_cast<double>(v.failed_by_suspicion));
  w.Head("leaseq_attempts_total", "counter", "Attempts ended since the broker started, by outcome.");
  for (AttemptOutcome ending : kEndings) {
    const char* outcome = ToText(ending);
    auto it = v.attempts.find(outcome);
    w.Sample("leaseq_attempts_total", std::string("outcome=\"") + outcome + "\"",
             it == v.attempts.end() ? 0.0 : static_cast<double>(it->second));
  }

  std::map<std::string, int64_t> by_state;
  for (WorkerState state : kWorkerStates) by_state[ToText(state)] = 0;
  int64_t slots = 0, running = 0, prefetched = 0;
  for (const auto& wk : workers) {
    ++by_state[wk.value("state", "")];
    if (wk.value("state", "") == ToText(WorkerState::kAlive)) slots += wk.value("slots", 0);
    running += wk.value("running", 0);
    prefetched += wk.value("prefetched", 0);
  }
  w.Head("leaseq_workers", "gauge", "Workers known to the database, by state.");
  for (const auto& [state, n] : by_state) {
    w.Sample("leaseq_workers", "state=\"" + Escape(state) + "\"", static_cast<double>(n));
  }
  w.Metric("leaseq_worker_slots", "gauge", "Slots of the alive workers (tasks they run at once).",
           static_cast<double>(slots));
  w.Metric("leaseq_worker_running_tasks", "gauge", "Attempts the workers have started and not ended.",
           static_cast<double>(running));
  w.Metric("leaseq_worker_prefetched_tasks", "gauge",
           "Attempts leased to workers beyond their free slots, not started yet.",
           static_cast<double>(prefetched));
  w.Metric("leaseq_workers_lost_total", "counter",
           "Workers declared lost (silent, or replaced) since the broker started.",
           static_cast<double>(v.workers_lost));
  w.Metric("leaseq_leases_reclaimed_total", "counter",
           "Leases taken back from lost workers or lapsed since the broker started.",
           static_cast<double>(v.leases_reclaimed));

  w.Head("leaseq_task_run_seconds", "histogram",
         "Run time of attempts that ended done or with an error, by queue.");
  for (const auto& [queue, h] : v.run_seconds) {
    w.Histo("leaseq_task_run_seconds", "queue=\"" + Escape(queue) + "\"", h);
  }
  w.Head("leaseq_task_queue_wait_seconds", "histogram",
         "Time from submission to the start of the first attempt, by queue.");
  for (const auto& [queue, h] : v.wait_seconds) {
    w.Histo("leaseq_task_queue_wait_seconds", "queue=\"" + Escape(queue) + "\"", h);
  }
  w.Head("leaseq_commit_duration_seconds", "histogram",
         "Time of the broker's group commits (one per loop pass).");
  w.Histo("leaseq_commit_duration_seconds", "", v.commit_seconds);
  w.Metric("leaseq_commits_total", "counter", "Group commits since the broker started.",
           static_cast<double>(v.commits));
  w.Metric("leaseq_commit_failures_total", "counter",
           "Passes whose commit failed (rolled back) since the broker started.",
           static_cast<double>(v.failed_commits));
  w.Metric("leaseq_database_size_bytes", "gauge", "Size of the SQLite database file.",
           static_cast<double>(FileSize(db_path)));
  w.Metric("leaseq_database_wal_size_bytes", "gauge", "Size of the database's write-ahead log.",
           static_cast<double>(FileSize(db_path + "-wal")));
  w.Metric("leaseq_broker_start_time_seconds", "gauge", "When the broker started (Unix time).",
           v.started_ms / 1000.0);
  *out = std::move(w.text());
  return Status::Ok();
}

}  // namespace leaseq
