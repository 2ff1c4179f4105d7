// TaskBody: the body of a `task` message (broker -> worker), written as
// JSON text directly instead of through a nlohmann::json object.
//
// The broker leases tens of thousands of tasks a second. Building a json
// object per task (a std::map of five or six entries, each key and string
// allocated) and dumping it cost about 14,000 instructions of the broker's
// 108,000 per task (callgrind, execution alone). The text written here is
// byte for byte what DumpJson (protocol.h) gives for the same object: the
// keys in the same sorted order, strings escaped the same way (the
// task_body_test checks both). A Message carries it in body_text.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace leaseq::wire {

struct TaskBody {
  int64_t attempt = 0;
  int64_t attempt_no = 0;
  std::string_view key;
  std::string_view fn;        // in-process function; empty for a command
  std::string_view cmd_json;  // the command's argv as a JSON array (stored so); used when fn is empty
  bool prefetched = false;    // sent as `prefetched: true` only when set
  int64_t timeout_ms = 0;     // sent only when above 0
};

// Appends the body's JSON object to *out.
void AppendTaskBody(const TaskBody& t, std::string* out);

// Appends s as a JSON string, as DumpJson would write it.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace leaseq::wire
