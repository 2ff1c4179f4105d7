#include "common/task_body.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/protocol.h"

namespace leaseq::wire {

namespace {

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// "name": with the name as written (our field names need no escapes).
void AppendName(std::string_view name, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      // Escapes, control characters, UTF-8 (valid or not): as DumpJson does.
      out->append(DumpJson(nlohmann::json(std::string(s))));
      return;
    }
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

void AppendTaskBody(const TaskBody& t, std::string* out) {
  // The keys in std::map order, as nlohmann::json sorts them.
  out->push_back('{');
  AppendName(field::kAttempt, out);
  AppendInt(t.attempt, out);
  out->push_back(',');
  AppendName(field::kAttemptNo, out);
  AppendInt(t.attempt_no, out);
  out->push_back(',');
  if (t.fn.empty()) {
    AppendName(field::kCmd, out);
    out->append(t.cmd_json);
  } else {
    AppendName(field::kFn, out);
    AppendJsonString(t.fn, out);
  }
  out->push_back(',');
  AppendName(field::kKey, out);
  AppendJsonString(t.key, out);
  if (t.prefetched) {
    out->push_back(',');
    AppendName(field::kPrefetched, out);
    out->append("true");
  }
  if (t.timeout_ms > 0) {
    out->push_back(',');
    AppendName(field::kTimeoutMs, out);
    AppendInt(t.timeout_ms, out);
  }
  out->push_back('}');
}

}  // namespace leaseq::wire
