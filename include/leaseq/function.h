// leaseq in-process functions: the type of a function a worker runs inside
// its own process instead of a command (README, "In-process functions").
//
// A function takes the task's stdin (its `input`, then the results of the
// tasks it runs after, in the order listed) and writes the task's result
// into *output. It returns FnStatus::Ok() for success (the task is `done`
// with *output as its result) or FnStatus::Error("why") for a failed attempt
// ("why" becomes the task's `error`; retries apply as for a command; the
// output of a failed attempt is dropped). An exception that escapes the
// function is a failed attempt too, with its what() as the error.
//
// Thread-safety: a worker with --slots N runs up to N calls at once, each
// on a thread of its own (never the thread that talks to the broker), so a
// function must be safe to call concurrently with itself and with the other
// functions of the same worker. A call cannot be interrupted: when its task
// is cancelled or its lease is lost, the call runs to its end and its
// output is dropped. Functions should not fork.
//
// Only the standard library is used here: this header and worker.h are the
// whole public interface (see examples/custom_worker/).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace leaseq {

// How a call ended: ok, or an error with a message for the task's `error`.
// A value type, cheap to move; not thread-safe to share mutable instances.
class FnStatus {
 public:
  FnStatus() = default;  // ok
  static FnStatus Ok() { return FnStatus(); }
  static FnStatus Error(std::string message) { return FnStatus(false, std::move(message)); }

  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }

 private:
  FnStatus(bool ok, std::string message) : ok_(ok), message_(std::move(message)) {}
  bool ok_ = true;
  std::string message_;
};

// Bytes in (stdin of the task), bytes out (its result).
using Fn = std::function<FnStatus(std::string_view input, std::string* output)>;

}  // namespace leaseq
