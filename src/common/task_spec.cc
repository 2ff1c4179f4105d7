#include "common/task_spec.h"

#include <random>
#include <set>

namespace leaseq {

namespace {

const std::set<std::string>& KnownFields() {
  static const std::set<std::string> kFields = {"key",   "cmd",     "fn",       "input",
                                                "after", "retries", "priority", "queue"};
  return kFields;
}

Status FieldError(const std::string& field, const std::string& what) {
  return Status::Invalid("field '" + field + "' " + what);
}

Status ReadStringList(const nlohmann::json& v, const std::string& field,
                      std::vector<std::string>* out) {
  if (!v.is_array()) return FieldError(field, "must be a list of strings");
  out->clear();
  for (const auto& e : v) {
    if (!e.is_string()) return FieldError(field, "must be a list of strings");
    out->push_back(e.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

Status ParseTaskJson(const nlohmann::json& j, TaskSpec* out) {
  if (!j.is_object()) return Status::Invalid("a task must be a JSON object");
  TaskSpec t;
  for (const auto& [name, v] : j.items()) {
    if (KnownFields().count(name) == 0) {
      return Status::Invalid("unknown field '" + name +
                             "' (known: key, cmd, fn, input, after, retries, priority, queue)");
    }
    Status s;
    if (name == "key") {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return FieldError(name, "must be a non-empty string");
      }
      t.key = v.get<std::string>();
    } else if (name == "cmd") {
      s = ReadStringList(v, name, &t.cmd);
      if (s.ok() && t.cmd.empty()) s = FieldError(name, "must not be empty");
    } else if (name == "fn") {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return FieldError(name, "must be a non-empty string");
      }
      t.fn = v.get<std::string>();
    } else if (name == "input") {
      if (!v.is_string()) return FieldError(name, "must be a string");
      t.input = v.get<std::string>();
    } else if (name == "after") {
      s = ReadStringList(v, name, &t.after);
    } else if (name == "retries" || name == "priority") {
      if (!v.is_number_integer()) return FieldError(name, "must be an integer");
      (name == "retries" ? t.retries : t.priority) = v.get<int64_t>();
      if (t.retries < 0) return FieldError(name, "must not be negative");
    } else if (name == "queue") {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return FieldError(name, "must be a non-empty string");
      }
      t.queue = v.get<std::string>();
    }
    if (!s.ok()) return s;
  }
  if (t.cmd.empty() && t.fn.empty()) return Status::Invalid("missing field 'cmd'");
  if (!t.cmd.empty() && !t.fn.empty()) return Status::Invalid("give 'cmd' or 'fn', not both");
  *out = std::move(t);
  return Status::Ok();
}

Status ParseTaskLine(const std::string& line, TaskSpec* out) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Invalid("malformed JSON");
  return ParseTaskJson(j, out);
}

nlohmann::json TaskToJson(const TaskSpec& t) {
  nlohmann::json j = {{"key", t.key},         {"input", t.input},       {"after", t.after},
                      {"retries", t.retries}, {"priority", t.priority}, {"queue", t.queue}};
  if (t.fn.empty()) {
    j["cmd"] = t.cmd;
  } else {
    j["fn"] = t.fn;
  }
  return j;
}

std::string TaskToLine(const TaskSpec& t) {
  nlohmann::json j = {{"key", t.key}};
  if (t.fn.empty()) {
    j["cmd"] = t.cmd;
  } else {
    j["fn"] = t.fn;
  }
  if (!t.input.empty()) j["input"] = t.input;
  if (!t.after.empty()) j["after"] = t.after;
  if (t.retries != 0) j["retries"] = t.retries;
  if (t.priority != 0) j["priority"] = t.priority;
  if (t.queue != TaskSpec().queue) j["queue"] = t.queue;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string CanonicalFields(const TaskSpec& t) {
  nlohmann::json j = TaskToJson(t);
  j.erase("key");
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string GenerateKey() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string key = "t-";
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 12; ++i) {
      key.push_back(kHex[v & 0xf]);
      v >>= 4;
    }
  }
  return key;
}

}  // namespace leaseq
