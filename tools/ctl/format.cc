#include "tools/ctl/format.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

#include "common/protocol.h"
#include "tools/common/progress.h"
#include "tools/common/state_counts.h"
#include "tools/ctl/format_table.h"

namespace leaseq::tools {

namespace {

std::string Row(const std::string& label, const std::string& value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%-10s ", label.c_str());
  return buf + value + "\n";
}

int64_t IntOr0(const nlohmann::json& obj, const char* field) {
  auto it = obj.find(field);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// A table cell: strings as they are, a list of strings joined by commas
// (queues, functions; "-" when empty), another list by its length (the
// running[] attempt ids of an older broker), anything else as JSON.
std::string Cell(const nlohmann::json& row, const char* field) {
  auto it = row.find(field);
  if (it == row.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array() && (it->empty() || (*it)[0].is_string())) {
    std::string joined;
    for (const auto& v : *it) joined += (joined.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : "?");
    return joined.empty() ? "-" : joined;
  }
  if (it->is_array()) return std::to_string(it->size());
  return wire::DumpJson(*it);
}

// The queue table and the queued tasks nobody can serve, after the totals.
std::string QueueLines(const nlohmann::json& body) {
  auto queues = body.find(wire::field::kQueues);
  if (queues == body.end() || !queues->is_object() || queues->empty()) return "";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"QUEUE", "STATE", "WAITING", "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED",
                  "OLDEST QUEUED"});
  for (const auto& [name, q] : queues->items()) {
    std::vector<std::string> r = {name, q.value(wire::field::kPaused, false) ? "paused" : "active"};
    const nlohmann::json counts = q.value(wire::field::kCounts, nlohmann::json::object());
    for (auto state : kTaskStateNames) r.push_back(std::to_string(IntOr0(counts, std::string(state).c_str())));
    auto age = q.find("oldest_queued_age_ms");
    r.push_back(age != q.end() && age->is_number_integer()
                    ? FormatDuration(static_cast<double>(age->get<int64_t>()) / 1000.0)
                    : "-");
    rows.push_back(std::move(r));
  }
  std::string text = "\n" + AlignColumns(rows);
  auto unservable = body.find(wire::field::kUnservable);
  if (unservable != body.end() && unservable->is_array() && !unservable->empty()) {
    text += "\n";
    for (const auto& u : *unservable) {
      const std::string queue = u.value(wire::field::kQueue, std::string("?"));
      const std::string n = std::to_string(IntOr0(u, wire::field::kQueued));
      auto fn = u.find(wire::field::kFn);
      if (fn != u.end() && fn->is_string()) {
        text += "queue " + queue + ": " + n + " queued for function '" + fn->get<std::string>() +
                "', which no live worker of the queue has\n";
      } else {
        text += "queue " + queue + ": " + n + " queued, no live worker serves it\n";
      }
    }
  }
  return text;
}

}  // namespace

Status FormatStatus(const nlohmann::json& body, std::string* out) {
  StateCounts counts;
  auto c = body.find(wire::field::kCounts);
  if (c == body.end()) return Status::Invalid("the `status` reply has no 'counts'");
  if (Status s = ParseStateCounts(*c, &counts); !s.ok()) return s;
  auto w = body.find(wire::field::kWorkers);
  if (w == body.end() || !w->is_object()) {
    return Status::Invalid("the `status` reply has no 'workers' object");
  }
  std::string text;
  for (size_t i = 0; i < kTaskStateNames.size(); ++i) {
    text += Row(std::string(kTaskStateNames[i]), std::to_string(counts.n[i]));
    // Delayed tasks are queued ones whose time has not come: shown beneath
    // (a broker from before delayed tasks sends no count, and gets no row).
    if (kTaskStateNames[i] == "queued" && body.contains(wire::field::kDelayed)) {
      text += Row("  delayed", std::to_string(IntOr0(body, "delayed")));
    }
  }
  text += Row("workers", "alive " + std::to_string(IntOr0(*w, "alive")) + ", lost " +
                             std::to_string(IntOr0(*w, "lost")) + ", gone " +
                             std::to_string(IntOr0(*w, "gone")));
  auto paused = body.find(wire::field::kPaused);
  if (paused != body.end() && paused->is_array() && !paused->empty()) {
    std::string names;
    for (const auto& q : *paused) names += (names.empty() ? "" : ", ") + (q.is_string() ? q.get<std::string>() : "?");
    text += Row("paused", names);
  }
  text += QueueLines(body);
  *out = std::move(text);
  return Status::Ok();
}

Status FormatWorkers(const nlohmann::json& body, std::string* out) {
  auto list = body.find(wire::field::kWorkers);
  if (list == body.end() || !list->is_array()) {
    return Status::Invalid("the `workers` reply has no 'workers' list");
  }
  static constexpr std::array<const char*, 9> kFields = {
      "name", "pid", "host", "state", "slots", "running", "prefetched", "queues", "fns"};
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "PID", "HOST", "STATE", "SLOTS", "RUNNING", "PREFETCHED", "QUEUES",
                  "FUNCTIONS"});
  for (const auto& w : *list) {
    if (!w.is_object()) return Status::Invalid("a worker in the `workers` reply is not an object");
    std::vector<std::string> r;
    for (const char* field : kFields) r.push_back(Cell(w, field));
    rows.push_back(std::move(r));
  }
  *out = AlignColumns(rows);
  return Status::Ok();
}

std::string FormatShow(const nlohmann::json& body) {
  nlohmann::json j = body;
  j.erase(wire::field::kId);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace leaseq::tools
