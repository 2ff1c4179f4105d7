// ParseDurationArg: a duration given on the command line, a whole number
// and a unit: "1500ms", "30s", "5m", "2h" (leaseq-ctl wait --timeout,
// purge --older-than; leaseq-broker --retain).
//
// Interim: src/common/duration.{h,cc} (another branch) is to replace this
// once both are merged; the accepted forms are meant to be the same.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace leaseq::tools {

// Milliseconds in *ms; Invalid, saying which forms are accepted, for
// anything else (no unit, an unknown unit, a sign, a fraction, overflow).
Status ParseDurationArg(std::string_view text, int64_t* ms);

}  // namespace leaseq::tools
