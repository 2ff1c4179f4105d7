// Points in time as RFC 3339 text, for `leaseq-submit --at` and the
// "not_before" field of a task file: "2026-12-01T10:00:00Z",
// "2026-12-01T11:00:00+01:00", "2026-12-01T10:00:00.250Z" (a lower-case t/z
// or a space for the T are accepted, as RFC 3339 allows). The offset is
// required: a time without one would depend on the zone of whoever reads
// it. Parsed into milliseconds since the Unix epoch (UTC); digits of the
// fraction beyond milliseconds are dropped. Times before 1970 are refused.
// Pure functions; thread-safe (no time zone database, no locale).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace leaseq {

Status ParseRfc3339(std::string_view text, int64_t* ms_since_epoch);

// UTC, "2026-12-01T10:00:00Z", with ".250" when there are milliseconds.
std::string FormatRfc3339(int64_t ms_since_epoch);

}  // namespace leaseq
