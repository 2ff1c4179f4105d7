// The in-process functions built into every leaseq worker (README,
// "In-process functions"):
//   noop   the result is empty (whatever the input)
//   echo   the result is the input (stdin: `input`, then the results of the
//          tasks it runs after)
//   sleep  stdin is a number of milliseconds as decimal text (surrounding
//          whitespace allowed, at most kMaxSleepMs); sleeps that long, empty
//          result. Anything else fails the attempt with
//          "sleep: input must be a number of milliseconds".
//
// Thread-safety: the functions are pure (sleep only blocks its own thread)
// and may run concurrently; AddBuiltinFunctions() is as thread-safe as the
// registry it fills (not at all).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "worker/function_registry.h"

namespace leaseq::worker {

inline constexpr int64_t kMaxSleepMs = 24LL * 3600 * 1000;  // a day

// Adds noop, echo and sleep; an error only when one of the names is taken.
Status AddBuiltinFunctions(FunctionRegistry* registry);

// sleep's parser: decimal milliseconds, whitespace around allowed.
Status ParseSleepMs(std::string_view text, int64_t* ms);

}  // namespace leaseq::worker
