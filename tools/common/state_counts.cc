#include "tools/common/state_counts.h"

#include <numeric>
#include <string>

namespace leaseq::tools {

int64_t StateCounts::Total() const { return std::accumulate(n.begin(), n.end(), int64_t{0}); }

int64_t StateCounts::Terminal() const {
  return (*this)[TaskState::kDone] + (*this)[TaskState::kFailed] +
         (*this)[TaskState::kCancelled];
}

void StateCounts::Add(const StateCounts& other) {
  for (size_t i = 0; i < n.size(); ++i) n[i] += other.n[i];
}

Status ParseStateCounts(const nlohmann::json& j, StateCounts* out) {
  if (!j.is_object()) return Status::Invalid("'counts' is not an object");
  StateCounts c;
  for (const auto& [name, v] : j.items()) {
    size_t i = 0;
    while (i < kTaskStateNames.size() && kTaskStateNames[i] != name) ++i;
    if (i == kTaskStateNames.size()) return Status::Invalid("unknown task state '" + name + "'");
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      return Status::Invalid("count of '" + name + "' is not a non-negative integer");
    }
    c.n[i] = v.get<int64_t>();
  }
  *out = c;
  return Status::Ok();
}

}  // namespace leaseq::tools
