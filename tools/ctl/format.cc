#include "tools/ctl/format.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

#include "common/protocol.h"
#include "tools/common/state_counts.h"

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

// A table cell: strings as they are, a list by its length (e.g. running[]
// attempts), anything else as JSON.
std::string Cell(const nlohmann::json& row, const char* field) {
  auto it = row.find(field);
  if (it == row.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) return std::to_string(it->size());
  return wire::DumpJson(*it);
}

}  // namespace

Status FormatStatus(const nlohmann::json& body, std::string* out) {
  StateCounts counts;
  auto c = body.find("counts");
  if (c == body.end()) return Status::Invalid("the `status` reply has no 'counts'");
  if (Status s = ParseStateCounts(*c, &counts); !s.ok()) return s;
  auto w = body.find("workers");
  if (w == body.end() || !w->is_object()) {
    return Status::Invalid("the `status` reply has no 'workers' object");
  }
  std::string text;
  for (size_t i = 0; i < kTaskStateNames.size(); ++i) {
    text += Row(std::string(kTaskStateNames[i]), std::to_string(counts.n[i]));
    // Delayed tasks are queued ones whose time has not come: shown beneath
    // (a broker from before delayed tasks sends no count, and gets no row).
    if (kTaskStateNames[i] == "queued" && body.contains("delayed")) {
      text += Row("  delayed", std::to_string(IntOr0(body, "delayed")));
    }
  }
  text += Row("workers", "alive " + std::to_string(IntOr0(*w, "alive")) + ", lost " +
                             std::to_string(IntOr0(*w, "lost")) + ", gone " +
                             std::to_string(IntOr0(*w, "gone")));
  *out = std::move(text);
  return Status::Ok();
}

Status FormatWorkers(const nlohmann::json& body, std::string* out) {
  auto list = body.find("workers");
  if (list == body.end() || !list->is_array()) {
    return Status::Invalid("the `workers` reply has no 'workers' list");
  }
  static constexpr std::array<const char*, 6> kFields = {"name",  "pid",   "host",
                                                         "state", "slots", "running"};
  std::vector<std::array<std::string, 6>> rows;
  rows.push_back({"NAME", "PID", "HOST", "STATE", "SLOTS", "RUNNING"});
  for (const auto& w : *list) {
    if (!w.is_object()) return Status::Invalid("a worker in the `workers` reply is not an object");
    std::array<std::string, 6> r;
    for (size_t i = 0; i < kFields.size(); ++i) r[i] = Cell(w, kFields[i]);
    rows.push_back(std::move(r));
  }
  std::array<size_t, 6> width{};
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string text;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    text += line + "\n";
  }
  *out = std::move(text);
  return Status::Ok();
}

std::string FormatShow(const nlohmann::json& body) {
  nlohmann::json j = body;
  j.erase("id");
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace leaseq::tools
