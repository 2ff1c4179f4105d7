// Durations as people write them on a command line or in a task file:
// "1500ms", "30s", "5m", "2h", or several of these in decreasing units
// ("1m30s", "2h15m"). Whole numbers only: "1.5s" is refused (write
// "1500ms"), as are a bare number ("10": which unit?), a sign, spaces, and
// anything above kMaxDurationMs. Parsing gives milliseconds.
//
// FormatDuration is the inverse used in messages ("timed out after 30s"):
// whole seconds in h/m/s, anything else in ms; ParseDuration reads it back.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace leaseq {

// 100 years: far beyond any sensible time limit or delay, and small enough
// that now + duration never overflows (nor loses precision in a JSON double).
inline constexpr int64_t kMaxDurationMs = 100LL * 365 * 24 * 3600 * 1000;

// Ok with *ms set, or Invalid with a message that quotes the text and says
// what is accepted. "0s" is a valid duration; callers that need a positive
// one check it.
Status ParseDuration(std::string_view text, int64_t* ms);

// "30s", "1m30s", "2h", "1500ms", "0s"; negative values are shown as "0s".
std::string FormatDuration(int64_t ms);

}  // namespace leaseq
