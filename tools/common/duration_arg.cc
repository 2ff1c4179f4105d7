#include "tools/common/duration_arg.h"

#include <array>
#include <limits>
#include <string>
#include <utility>

namespace leaseq::tools {

namespace {
// Longest first, so that "ms" is not read as "m" followed by junk.
constexpr std::array<std::pair<std::string_view, int64_t>, 4> kUnits = {{
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}}};
}  // namespace

Status ParseDurationArg(std::string_view text, int64_t* ms) {
  const Status bad = Status::Invalid("bad duration '" + std::string(text) +
                                     "': give a whole number and a unit, e.g. 1500ms, 30s, 5m, 2h");
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 18) return bad;
  const std::string_view unit = text.substr(digits);
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const int64_t n = std::stoll(std::string(text.substr(0, digits)));
    if (n > std::numeric_limits<int64_t>::max() / scale) return bad;
    *ms = n * scale;
    return Status::Ok();
  }
  return bad;
}

}  // namespace leaseq::tools
