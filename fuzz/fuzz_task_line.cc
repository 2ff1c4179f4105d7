// Fuzz target: the JSON Lines submission parser (src/common/task_spec.{h,cc}
// and tools/common/task_file.{h,cc}), fed what a user can put in a file.
//
// Input: the text of a task file.
//
// Checks:
//  - ParseTaskLine on the whole input never throws or crashes; when it
//    accepts, the task has cmd or fn (not both), a non-empty queue and
//    retries >= 0, and TaskToJson -> JSON text -> ParseTaskJson (the path of
//    a task to the broker) gives the same key and CanonicalFields;
//  - ParseTaskStream (leaseq-submit --file) on the input never throws; when
//    it accepts, line numbers are increasing and within the file, each task
//    round-trips as above, and a key used twice has the same fields; when it
//    refuses, the message names the file and a line.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/task_spec.h"
#include "fuzz/fuzz_check.h"
#include "tools/common/task_file.h"

namespace {

using leaseq::Status;
using leaseq::TaskSpec;

void CheckAccepted(TaskSpec t) {
  FUZZ_CHECK(t.cmd.empty() != t.fn.empty(), "accepted a task with %s",
             t.cmd.empty() ? "neither cmd nor fn" : "both cmd and fn");
  FUZZ_CHECK(!t.queue.empty(), "accepted an empty queue");
  FUZZ_CHECK(t.retries >= 0, "accepted negative retries");
  // leaseq-submit gives a key to a task without one before sending it.
  if (t.key.empty()) t.key = "t-fuzz";
  const nlohmann::json j = leaseq::TaskToJson(t);
  // The task travels as JSON text inside a submit body.
  const std::string text = leaseq::wire::DumpJson(j);
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!parsed.is_discarded(), "TaskToJson text does not parse: %s", text.c_str());
  TaskSpec back;
  Status s = leaseq::ParseTaskJson(parsed, &back);
  FUZZ_CHECK(s.ok(), "TaskToJson output refused (%s): %s", s.message().c_str(), text.c_str());
  FUZZ_CHECK(back.key == t.key, "key changed in a round trip");
  const std::string a = leaseq::CanonicalFields(t), b = leaseq::CanonicalFields(back);
  FUZZ_CHECK(a == b, "CanonicalFields changed in a round trip:\n  first: %s\n  again: %s",
             a.c_str(), b.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  TaskSpec t;
  Status s = leaseq::ParseTaskLine(input, &t);
  if (s.ok()) {
    CheckAccepted(t);
  } else {
    FUZZ_CHECK(!s.message().empty(), "a refusal without a reason");
  }

  std::istringstream in(input);
  leaseq::tools::TaskFile file;
  s = leaseq::tools::ParseTaskStream(in, "fuzz.jsonl", &file);
  if (!s.ok()) {
    FUZZ_CHECK(s.message().rfind("fuzz.jsonl:", 0) == 0, "refusal does not name the file: %s",
               s.message().c_str());
    return 0;
  }
  // The wire form, read back: every task accepted, in file order, and a
  // given key never twice with different fields.
  std::vector<TaskSpec> tasks;
  std::istringstream wire(file.wire());
  std::string line;
  while (std::getline(wire, line)) {
    TaskSpec t;
    FUZZ_CHECK(leaseq::ParseTaskLine(line, &t).ok(), "a wire line does not parse back: %s",
               line.c_str());
    tasks.push_back(std::move(t));
  }
  FUZZ_CHECK(tasks.size() == file.lines().size(), "tasks and line numbers disagree");
  FUZZ_CHECK(file.Keys().size() == tasks.size(), "tasks and keys disagree");
  int64_t newlines = 0;
  for (char c : input) newlines += c == '\n';
  int64_t previous = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    FUZZ_CHECK(file.lines()[i] > previous && file.lines()[i] <= newlines + 1,
               "line number %lld out of order or range", static_cast<long long>(file.lines()[i]));
    previous = file.lines()[i];
    CheckAccepted(tasks[i]);
    for (size_t k = 0; k < i; ++k) {
      if (tasks[k].key == tasks[i].key) {
        FUZZ_CHECK(leaseq::CanonicalFields(tasks[k]) == leaseq::CanonicalFields(tasks[i]),
                   "key '%s' accepted twice with different fields", tasks[i].key.c_str());
      }
    }
  }
  return 0;
}
