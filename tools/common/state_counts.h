// StateCounts: how many tasks are in each state, as the broker's `status` and
// `states` replies give them ({"queued": 12, ...}). The six states and their
// display order (the lifecycle order of docs/semantics.md) live here, once. Value type.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace leaseq::tools {

enum class TaskState { kWaiting, kQueued, kRunning, kDone, kFailed, kCancelled };

// In lifecycle order; index = static_cast<size_t>(TaskState).
inline constexpr std::array<std::string_view, 6> kTaskStateNames = {
    "waiting", "queued", "running", "done", "failed", "cancelled"};

struct StateCounts {
  std::array<int64_t, 6> n{};

  int64_t operator[](TaskState s) const { return n[static_cast<size_t>(s)]; }
  int64_t Total() const;
  // done + failed + cancelled: states a task leaves only by `retry`.
  int64_t Terminal() const;
  void Add(const StateCounts& other);
};

// Reads a {state: n} object. States absent count 0; an unknown state name or
// a count that is not a non-negative integer is an error (a broker speaking
// another protocol), because a state we cannot place would make a wait
// never end.
Status ParseStateCounts(const nlohmann::json& j, StateCounts* out);

}  // namespace leaseq::tools
