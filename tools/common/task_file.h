// TaskFile: a JSON Lines file of tasks for `leaseq-submit --file`, read and
// checked completely before anything is sent, so that a bad line refuses the
// whole submission. Each task remembers its line number, so that an error
// the broker reports by task index is shown as FILE:LINE too.
// Blank lines are skipped (and still counted); a trailing '\r' is dropped.
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/task_spec.h"

namespace leaseq::tools {

struct TaskFile {
  std::string name;             // as shown in messages: the path, or "<stdin>"
  std::vector<TaskSpec> tasks;  // in file order
  std::vector<int64_t> lines;   // lines[i] = 1-based line of tasks[i]

  // "NAME:LINE" of task i.
  std::string Where(size_t index) const;
};

// Parses every non-blank line. The first bad line gives an error
// "NAME:LINE: problem"; so does a key given twice with different fields
// (the same key with the same fields is allowed: a resubmission is a no-op).
Status ParseTaskStream(std::istream& in, const std::string& name, TaskFile* out);

// Reads path ("-" = stdin) with ParseTaskStream.
Status ReadTaskFile(const std::string& path, TaskFile* out);

// Gives every task without a key a fresh one (GenerateKey), so that the
// client's retries of the one submit request stay idempotent.
void AssignMissingKeys(std::vector<TaskSpec>* tasks);

}  // namespace leaseq::tools
