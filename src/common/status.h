// Status: the result of an operation that can fail, returned across module
// boundaries instead of throwing (in the manner of LevelDB's Status).
// An ok Status carries no message. Cheap to copy; not thread-safe to share
// mutable instances, like any value type.
#pragma once

#include <string>
#include <utility>

namespace leaseq {

class [[nodiscard]] Status {
 public:
  enum class Code { kOk, kInvalid, kNotFound, kConflict, kUnavailable, kIoError, kTimeout };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status IoError(std::string m) { return Status(Code::kIoError, std::move(m)); }
  static Status Timeout(std::string m) { return Status(Code::kTimeout, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace leaseq
