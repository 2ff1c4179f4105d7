#include "common/duration.h"

#include <array>
#include <utility>

namespace leaseq {

namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};
// Longest name first where one is a prefix of another ("ms" before "m").
constexpr std::array<Unit, 4> kUnits = {{{"ms", 1}, {"h", 3600000}, {"m", 60000}, {"s", 1000}}};

Status Bad(std::string_view text, const std::string& why) {
  return Status::Invalid("bad duration '" + std::string(text) + "': " + why +
                         " (write e.g. 1500ms, 30s, 5m, 2h or 1m30s)");
}

}  // namespace

Status ParseDuration(std::string_view text, int64_t* ms) {
  if (text.empty()) return Bad(text, "it is empty");
  int64_t total = 0;
  int64_t last_unit = INT64_MAX;  // units must decrease: "30s5m" is a typo
  size_t i = 0;
  while (i < text.size()) {
    const size_t digits_start = i;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > kMaxDurationMs) return Bad(text, "it is too long (at most 100 years)");
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    if (i == digits_start) {
      if (text[i] == '-') return Bad(text, "it must not be negative");
      return Bad(text, "expected a whole number at '" + std::string(text.substr(i)) + "'");
    }
    if (i == text.size()) return Bad(text, "the number has no unit (ms, s, m or h)");
    if (text[i] == '.' || text[i] == ',') return Bad(text, "only whole numbers are allowed");
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return Bad(text, "unknown unit at '" + std::string(text.substr(i)) + "'");
    i += unit->name.size();
    if (unit->ms >= last_unit) return Bad(text, "units must go from large to small, each once");
    last_unit = unit->ms;
    if (n > (kMaxDurationMs - total) / unit->ms) {
      return Bad(text, "it is too long (at most 100 years)");
    }
    total += n * unit->ms;
  }
  *ms = total;
  return Status::Ok();
}

std::string FormatDuration(int64_t ms) {
  if (ms <= 0) return "0s";
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  std::string out;
  for (const auto& [unit, size] : {std::pair<const char*, int64_t>{"h", 3600}, {"m", 60}, {"s", 1}}) {
    if (s >= size) {
      out += std::to_string(s / size) + unit;
      s %= size;
    }
  }
  return out;
}

}  // namespace leaseq
