// `leaseq-ctl list` output: a table for people, JSON Lines for scripts.
#include <vector>

#include "common/protocol.h"
#include "tools/common/progress.h"
#include "tools/ctl/format.h"
#include "tools/ctl/format_table.h"

namespace leaseq::tools {

namespace {

Status Tasks(const nlohmann::json& body, const nlohmann::json** tasks) {
  auto it = body.find(wire::field::kTasks);
  if (it == body.end() || !it->is_array()) return Status::Invalid("the `list` reply has no 'tasks' list");
  for (const auto& t : *it) {
    if (!t.is_object()) return Status::Invalid("a task in the `list` reply is not an object");
  }
  *tasks = &*it;
  return Status::Ok();
}

std::string Text(const nlohmann::json& t, const char* field) {
  auto it = t.find(field);
  return it != t.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Note(const nlohmann::json& t) {
  if (t.value(wire::field::kPaused, false)) return "queue paused";
  if (std::string why = Text(t, "unservable"); !why.empty()) return "not served: " + why;
  return Text(t, "error");
}

}  // namespace

Status FormatList(const nlohmann::json& body, std::string* out) {
  const nlohmann::json* tasks = nullptr;
  if (Status s = Tasks(body, &tasks); !s.ok()) return s;
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"KEY", "STATE", "QUEUE", "ATTEMPTS", "AGE", "ERROR"});
  for (const auto& t : *tasks) {
    auto age = t.find("age_ms");
    auto attempts = t.find(wire::field::kAttempts);
    std::vector<std::string> r = {
        Text(t, "key"), Text(t, "state"), Text(t, "queue"),
        attempts != t.end() && attempts->is_number_integer() ? std::to_string(attempts->get<int64_t>()) : "-",
        age != t.end() && age->is_number_integer()
            ? FormatDuration(static_cast<double>(age->get<int64_t>()) / 1000.0)
            : "-"};
    if (std::string note = Note(t); !note.empty()) r.push_back(std::move(note));
    rows.push_back(std::move(r));
  }
  *out = AlignColumns(rows);
  return Status::Ok();
}

Status FormatListJson(const nlohmann::json& body, std::string* out) {
  const nlohmann::json* tasks = nullptr;
  if (Status s = Tasks(body, &tasks); !s.ok()) return s;
  out->clear();
  for (const auto& t : *tasks) *out += wire::DumpJson(t) + "\n";
  return Status::Ok();
}

}  // namespace leaseq::tools
