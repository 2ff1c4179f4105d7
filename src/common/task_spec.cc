#include "common/task_spec.h"

#include <chrono>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <string_view>

#include "common/base64.h"
#include "common/config.h"
#include "common/duration.h"
#include "common/plain_json.h"
#include "common/text_checks.h"
#include "common/timestamp.h"

namespace leaseq {

namespace {

constexpr const char* kKnownList =
    "key, cmd, fn, input, input_base64, after, retries, priority, queue, timeout, delay, "
    "not_before";

const std::set<std::string>& KnownFields() {
  static const std::set<std::string> kFields = {
      "key",   "cmd",      "fn",    "input",   "input_base64", "after",
      "retries", "priority", "queue", "timeout", "delay",        "not_before"};
  return kFields;
}

// Year 9999: the largest time RFC 3339 can write.
constexpr int64_t kMaxTimeMs = 253402300799999;

Status FieldError(const std::string& field, const std::string& what) {
  return Status::Invalid("field '" + field + "' " + what);
}
// "field 'timeout': bad duration ..."
Status FieldProblem(const std::string& field, const std::string& problem) {
  return Status::Invalid("field '" + field + "': " + problem);
}

// A key, queue or function name: shown one a line, compared as bytes.
Status CheckName(const std::string& field, const std::string& v) {
  if (!IsValidUtf8(v)) return FieldError(field, "must be valid UTF-8");
  if (HasControlCharacter(v)) {
    return FieldError(field, "must not contain control characters (newline, tab, ...)");
  }
  return Status::Ok();
}

Status ReadName(const nlohmann::json& v, const std::string& field, std::string* out) {
  if (!v.is_string() || v.get<std::string>().empty()) {
    return FieldError(field, "must be a non-empty string");
  }
  *out = v.get<std::string>();
  return CheckName(field, *out);
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

Status ReadCmd(const nlohmann::json& v, std::vector<std::string>* out) {
  Status s = ReadStringList(v, "cmd", out);
  if (s.ok() && out->empty()) s = FieldError("cmd", "must not be empty");
  for (size_t i = 0; s.ok() && i < out->size(); ++i) {
    const std::string& arg = (*out)[i];
    const std::string which = i == 0 ? "the program name" : "argument " + std::to_string(i);
    if (arg.find('\0') != std::string::npos) {
      s = FieldProblem("cmd", which + " contains a NUL byte, which a command line cannot carry");
    } else if (!IsValidUtf8(arg)) {
      s = FieldProblem("cmd", which + " is not valid UTF-8");
    }
  }
  return s;
}

// A duration: "30s" (duration.h) or integer milliseconds.
Status ReadDuration(const nlohmann::json& v, const std::string& field, int64_t* ms) {
  if (v.is_string()) {
    Status s = ParseDuration(v.get<std::string>(), ms);
    return s.ok() ? s : FieldProblem(field, s.message());
  }
  if (!v.is_number_integer()) {
    return FieldError(field, "must be a duration such as \"30s\" or integer milliseconds");
  }
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(kMaxDurationMs)
                                           : v.get<int64_t>() >= 0;
  if (!fits) return FieldError(field, "must be between 0 and 100 years in milliseconds");
  *ms = v.get<int64_t>();
  return Status::Ok();
}

// A time: RFC 3339 text or integer milliseconds since the Unix epoch.
Status ReadTime(const nlohmann::json& v, const std::string& field, int64_t* ms) {
  if (v.is_string()) {
    Status s = ParseRfc3339(v.get<std::string>(), ms);
    return s.ok() ? s : FieldProblem(field, s.message());
  }
  if (!v.is_number_integer()) {
    return FieldError(field, "must be an RFC 3339 time such as \"2026-12-01T10:00:00Z\" or "
                             "integer milliseconds since 1970");
  }
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(kMaxTimeMs)
                                           : v.get<int64_t>() >= 0;
  if (!fits) return FieldError(field, "must be milliseconds between 1970 and the year 9999");
  *ms = v.get<int64_t>();
  return Status::Ok();
}

Status ReadField(const std::string& name, const nlohmann::json& v, TaskSpec* t) {
  if (name == "key") return ReadName(v, name, &t->key);
  if (name == "cmd") return ReadCmd(v, &t->cmd);
  if (name == "fn") return ReadName(v, name, &t->fn);
  if (name == "queue") return ReadName(v, name, &t->queue);
  if (name == "input") {
    if (!v.is_string()) return FieldError(name, "must be a string");
    t->input = v.get<std::string>();
    return Status::Ok();
  }
  if (name == "input_base64") {
    if (!v.is_string()) return FieldError(name, "must be a string");
    Status s = Base64Decode(v.get<std::string>(), &t->input);
    return s.ok() ? s : FieldProblem(name, s.message());
  }
  if (name == "after") {
    Status s = ReadStringList(v, name, &t->after);
    for (size_t i = 0; s.ok() && i < t->after.size(); ++i) {
      if (t->after[i].empty()) return FieldError(name, "must not name an empty key");
      s = CheckName(name, t->after[i]);
    }
    return s;
  }
  if (name == "retries" || name == "priority") {
    if (!v.is_number_integer()) return FieldError(name, "must be an integer");
    (name == "retries" ? t->retries : t->priority) = v.get<int64_t>();
    if (t->retries < 0) return FieldError(name, "must not be negative");
    return Status::Ok();
  }
  if (name == "timeout") {
    Status s = ReadDuration(v, name, &t->timeout_ms);
    if (s.ok() && t->timeout_ms == 0) s = FieldError(name, "must be longer than 0");
    return s;
  }
  if (name == "delay") return ReadDuration(v, name, &t->delay_ms);
  if (name == "not_before") return ReadTime(v, name, &t->not_before_ms);
  return Status::Invalid("unknown field '" + name + "' (known: " + kKnownList + ")");
}

// The input as JSON: text when it is UTF-8, else base64 (never altered).
void PutInput(const std::string& input, nlohmann::json* j) {
  if (IsValidUtf8(input)) {
    (*j)["input"] = input;
  } else {
    (*j)["input_base64"] = Base64Encode(input);
  }
}

// The fields added after version 1 of the schema, only when set.
void PutTimes(const TaskSpec& t, nlohmann::json* j) {
  if (t.timeout_ms != 0) (*j)["timeout"] = t.timeout_ms;
  if (t.delay_ms != 0) (*j)["delay"] = t.delay_ms;
  if (t.not_before_ms != 0) (*j)["not_before"] = t.not_before_ms;
}

}  // namespace

Status ParseTaskJson(const nlohmann::json& j, TaskSpec* out) {
  if (!j.is_object()) return Status::Invalid("a task must be a JSON object");
  TaskSpec t;
  for (const auto& [name, v] : j.items()) {
    if (KnownFields().count(name) == 0) {
      return Status::Invalid("unknown field '" + name + "' (known: " + kKnownList + ")");
    }
    Status s = ReadField(name, v, &t);
    if (!s.ok()) return s;
  }
  if (t.cmd.empty() && t.fn.empty()) return Status::Invalid("missing field 'cmd'");
  if (!t.cmd.empty() && !t.fn.empty()) return Status::Invalid("give 'cmd' or 'fn', not both");
  if (j.contains("input") && j.contains("input_base64")) {
    return Status::Invalid("give 'input' or 'input_base64', not both");
  }
  if (j.contains("delay") && j.contains("not_before")) {
    return Status::Invalid("give 'delay' or 'not_before', not both");
  }
  if (static_cast<int64_t>(t.input.size()) > config::kMaxInputBytes) {
    return FieldError(j.contains("input") ? "input" : "input_base64",
                      "is " + std::to_string(t.input.size()) + " bytes, more than the limit of " +
                          std::to_string(config::kMaxInputBytes) + " (64 MiB)");
  }
  *out = std::move(t);
  return Status::Ok();
}

namespace {

// The fast path of ParseTaskLine, for the lines leaseq-submit itself writes
// (TaskToLine of simple tasks: {"cmd":["true"],"key":"t-..."}): no
// whitespace, fields among key, fn, queue, input, cmd, after, retries,
// priority, each once, strings of printable ASCII without escapes, integers
// of at most 18 digits. It accepts a line only when the JSON path would
// accept it with the same result, and says false for anything else (which
// the JSON path then reads, and refuses with its message): a million lines
// skip a million JSON trees.
class SimpleLine {
 public:
  explicit SimpleLine(std::string_view line) : j_(line) {}

  bool Parse(TaskSpec* out) {
    TaskSpec t;
    unsigned seen = 0;
    if (!j_.Eat('{')) return false;
    if (j_.Eat('}')) return false;  // no cmd, no fn: the JSON path says which
    do {
      std::string_view name;
      if (!j_.String(&name) || !j_.Eat(':')) return false;
      const unsigned bit = Bit(name);
      if (bit == 0 || (seen & bit) != 0) return false;
      seen |= bit;
      if (!Value(name, &t)) return false;
    } while (j_.Eat(','));
    if (!j_.Eat('}') || !j_.AtEnd()) return false;
    if (t.cmd.empty() == t.fn.empty()) return false;  // neither or both
    if (static_cast<int64_t>(t.input.size()) > config::kMaxInputBytes) return false;
    *out = std::move(t);
    return true;
  }

 private:
  static unsigned Bit(std::string_view name) {
    static constexpr std::string_view kNames[] = {"key",   "fn",    "queue",   "input",
                                                  "cmd",   "after", "retries", "priority"};
    for (unsigned i = 0; i < std::size(kNames); ++i) {
      if (name == kNames[i]) return 1u << i;
    }
    return 0;
  }

  bool Value(std::string_view name, TaskSpec* t) {
    std::string_view v;
    if (name == "key" || name == "fn" || name == "queue") {
      if (!j_.String(&v) || v.empty()) return false;
      (name == "key" ? t->key : name == "fn" ? t->fn : t->queue).assign(v);
      return true;
    }
    if (name == "input") {
      if (!j_.String(&v)) return false;
      t->input.assign(v);
      return true;
    }
    if (name == "cmd" || name == "after") {
      std::vector<std::string>& list = name == "cmd" ? t->cmd : t->after;
      if (!j_.Eat('[')) return false;
      if (j_.Eat(']')) return name == "after";  // an empty cmd is an error
      do {
        if (!j_.String(&v) || (v.empty() && name == "after")) return false;
        list.emplace_back(v);
      } while (j_.Eat(','));
      return j_.Eat(']');
    }
    int64_t n = 0;
    if (!j_.Integer(&n)) return false;
    if (name == "retries") {
      if (n < 0) return false;
      t->retries = n;
    } else {
      t->priority = n;
    }
    return true;
  }

  PlainJson j_;
};

}  // namespace

Status ParseTaskLine(const std::string& line, TaskSpec* out) {
  if (SimpleLine(line).Parse(out)) return Status::Ok();
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Invalid("malformed JSON");
  return ParseTaskJson(j, out);
}

nlohmann::json TaskToJson(const TaskSpec& t) {
  nlohmann::json j = {{"key", t.key},
                      {"after", t.after},
                      {"retries", t.retries},
                      {"priority", t.priority},
                      {"queue", t.queue}};
  PutInput(t.input, &j);
  if (t.fn.empty()) {
    j["cmd"] = t.cmd;
  } else {
    j["fn"] = t.fn;
  }
  PutTimes(t, &j);
  return j;
}

std::string TaskToLineJson(const TaskSpec& t) {
  nlohmann::json j = {{"key", t.key}};
  if (t.fn.empty()) {
    j["cmd"] = t.cmd;
  } else {
    j["fn"] = t.fn;
  }
  if (!t.input.empty()) PutInput(t.input, &j);
  if (!t.after.empty()) j["after"] = t.after;
  if (t.retries != 0) j["retries"] = t.retries;
  if (t.priority != 0) j["priority"] = t.priority;
  if (t.queue != TaskSpec().queue) j["queue"] = t.queue;
  PutTimes(t, &j);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// s as a JSON string, escaped exactly as nlohmann::json::dump() escapes
// valid UTF-8 (ensure_ascii off): '"', '\\', the short escapes, the other C0
// controls as \u00xx; everything else as it is.
void AppendJsonString(std::string_view s, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  // Runs of bytes that need no escape are appended whole (keys, names and
  // most inputs are one run): a submission writes one string per field.
  auto plain = [](unsigned char u) { return u >= 0x20 && u != '"' && u != '\\'; };
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size() && plain(static_cast<unsigned char>(s[run]))) ++run;
    out->append(s.data() + i, run - i);
    if (run == s.size()) break;
    i = run + 1;
    const char c = s[run];
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:  // the other C0 controls
        out->append("\\u00");
        out->push_back(kHex[u >> 4]);
        out->push_back(kHex[u & 0xf]);
    }
  }
  out->push_back('"');
}

void AppendJsonList(const std::vector<std::string>& v, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(v[i], out);
  }
  out->push_back(']');
}

// The text form of CanonicalFields: the nlohmann form (the reference) when a
// string is not valid UTF-8 (it would be replaced there, byte by byte).
bool AllUtf8(const TaskSpec& t) {
  if (!IsValidUtf8(t.fn) || !IsValidUtf8(t.queue)) return false;
  for (const auto& a : t.cmd) {
    if (!IsValidUtf8(a)) return false;
  }
  for (const auto& a : t.after) {
    if (!IsValidUtf8(a)) return false;
  }
  return true;
}

}  // namespace

std::string CanonicalFieldsJson(const TaskSpec& t) {
  nlohmann::json j = TaskToJson(t);
  j.erase("key");
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string CanonicalFields(const TaskSpec& t) {
  // Computed for every stored task (its `spec` column), so written directly
  // rather than through a JSON tree; byte for byte CanonicalFieldsJson
  // (files written before keep comparing equal), the fields in its sorted
  // order: after, cmd, delay, fn, input | input_base64, not_before,
  // priority, queue, retries, timeout.
  if (!AllUtf8(t)) return CanonicalFieldsJson(t);
  std::string out;
  out.reserve(96 + t.input.size());
  out.append("{\"after\":");
  AppendJsonList(t.after, &out);
  if (t.fn.empty()) {
    out.append(",\"cmd\":");
    AppendJsonList(t.cmd, &out);
  }
  if (t.delay_ms != 0) out.append(",\"delay\":").append(std::to_string(t.delay_ms));
  if (!t.fn.empty()) {
    out.append(",\"fn\":");
    AppendJsonString(t.fn, &out);
  }
  if (IsValidUtf8(t.input)) {
    out.append(",\"input\":");
    AppendJsonString(t.input, &out);
  } else {
    out.append(",\"input_base64\":");
    AppendJsonString(Base64Encode(t.input), &out);
  }
  if (t.not_before_ms != 0) out.append(",\"not_before\":").append(std::to_string(t.not_before_ms));
  out.append(",\"priority\":").append(std::to_string(t.priority));
  out.append(",\"queue\":");
  AppendJsonString(t.queue, &out);
  out.append(",\"retries\":").append(std::to_string(t.retries));
  if (t.timeout_ms != 0) out.append(",\"timeout\":").append(std::to_string(t.timeout_ms));
  out.push_back('}');
  return out;
}

std::string TaskToLine(const TaskSpec& t) {
  // Written for every task of a file by leaseq-submit: directly, byte for
  // byte TaskToLineJson (tested against it), fields in its sorted order and
  // those at their defaults left out.
  if (!AllUtf8(t) || !IsValidUtf8(t.key)) return TaskToLineJson(t);
  std::string out;
  out.reserve(64 + t.key.size() + t.input.size());
  out.push_back('{');
  auto field = [&out](const char* name) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    out.append(name);
    out.append("\":");
  };
  if (!t.after.empty()) {
    field("after");
    AppendJsonList(t.after, &out);
  }
  if (t.fn.empty()) {
    field("cmd");
    AppendJsonList(t.cmd, &out);
  }
  if (t.delay_ms != 0) {
    field("delay");
    out.append(std::to_string(t.delay_ms));
  }
  if (!t.fn.empty()) {
    field("fn");
    AppendJsonString(t.fn, &out);
  }
  if (!t.input.empty()) {
    if (IsValidUtf8(t.input)) {
      field("input");
      AppendJsonString(t.input, &out);
    } else {
      field("input_base64");
      AppendJsonString(Base64Encode(t.input), &out);
    }
  }
  field("key");
  AppendJsonString(t.key, &out);
  if (t.not_before_ms != 0) {
    field("not_before");
    out.append(std::to_string(t.not_before_ms));
  }
  if (t.priority != 0) {
    field("priority");
    out.append(std::to_string(t.priority));
  }
  static const std::string kDefaultQueue = TaskSpec().queue;
  if (t.queue != kDefaultQueue) {
    field("queue");
    AppendJsonString(t.queue, &out);
  }
  if (t.retries != 0) {
    field("retries");
    out.append(std::to_string(t.retries));
  }
  if (t.timeout_ms != 0) {
    field("timeout");
    out.append(std::to_string(t.timeout_ms));
  }
  out.push_back('}');
  return out;
}

std::string GenerateKey() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static std::mutex mu;
  static uint64_t last_ms = 0, seq = 0;  // guarded by mu
  static const char* kHex = "0123456789abcdef";
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  uint64_t this_seq = 0;
  {
    // Monotonic within the process: a clock stepped back, or 65,536 keys in
    // one millisecond, borrow the next millisecond rather than sort earlier.
    std::lock_guard<std::mutex> lock(mu);
    if (ms > last_ms) {
      last_ms = ms;
      seq = 0;
    } else if (++seq > 0xffff) {
      ++last_ms;
      seq = 0;
    }
    ms = last_ms;
    this_seq = seq;
  }
  char key[34] = {'t', '-'};
  char* at = key + 2;
  auto put = [&at](uint64_t v, int digits) {  // most significant digit first
    for (int i = digits - 1; i >= 0; --i) *at++ = kHex[(v >> (4 * i)) & 0xf];
  };
  put(ms, 12);
  put(this_seq, 4);
  put(rng(), 16);
  return std::string(key, sizeof key);
}

}  // namespace leaseq
