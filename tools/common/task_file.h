// TaskFile: the tasks of one `leaseq-submit`, read and checked completely
// before anything is sent, so that a bad line refuses the whole submission.
// It keeps them in the compact form they travel in (JSON Lines, one task a
// line, every key filled in) rather than as TaskSpec values, so that a
// million tasks cost the client tens of megabytes, not hundreds.
// Each task remembers its line number, so that an error the broker reports
// by task index is shown as FILE:LINE too.
// Blank lines are skipped (and still counted); a trailing '\r' is dropped.
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/task_spec.h"

namespace leaseq::tools {

class TaskFile {
 public:
  explicit TaskFile(std::string name = "") : name_(std::move(name)) {}

  // Checks t, gives it a fresh key if it has none (GenerateKey: the
  // client's retries of the one submit request stay idempotent) and appends
  // it. line: its 1-based line, 0 for a task given by flags. Refuses a key
  // given twice with different fields (the same key with the same fields is
  // allowed: a resubmission is a no-op); keys it generated itself are not
  // looked up, they cannot repeat.
  Status Add(TaskSpec t, int64_t line);

  const std::string& name() const { return name_; }
  size_t size() const { return lines_.size(); }
  bool empty() const { return lines_.empty(); }
  // The tasks as JSON Lines (TaskToLine, a '\n' after each): blob 0 of
  // `submit`, so the broker's task `index` is ours.
  const std::string& wire() const { return wire_; }
  std::string& mutable_wire() { return wire_; }
  // Every key, in order, each followed by '\n' (what leaseq-submit prints).
  const std::string& keys_text() const { return keys_text_; }
  std::vector<std::string> Keys() const;
  const std::vector<int64_t>& lines() const { return lines_; }
  int64_t input_bytes() const { return input_bytes_; }

  // "NAME:LINE" of task i, or "" for a task given by flags.
  std::string Where(size_t index) const;

  // Gives back the room the strings grew into while the file was read (up
  // to half of each): the client's peak is the submission plus the copy
  // ZeroMQ makes to send it, so every spare megabyte counts.
  void Shrink();

 private:
  std::string name_;  // as shown in messages: the path, or "<stdin>"
  std::string wire_;
  std::string keys_text_;
  std::vector<int64_t> lines_;  // lines_[i] = 1-based line of task i
  int64_t input_bytes_ = 0;
  // A given key -> its first task's line and CanonicalFields, to catch a
  // key reused with other fields here, with the line number, rather than
  // as a broker error later.
  struct FirstUse {
    int64_t line;
    std::string fields;
  };
  std::unordered_map<std::string, FirstUse> given_keys_;
};

// Parses every non-blank line into *out (a TaskFile named `name`). The
// first bad line gives an error "NAME:LINE: problem".
Status ParseTaskStream(std::istream& in, const std::string& name, TaskFile* out);

// Reads path ("-" = stdin) with ParseTaskStream.
Status ReadTaskFile(const std::string& path, TaskFile* out);

}  // namespace leaseq::tools
