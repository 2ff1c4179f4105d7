#include "broker/store_ops.h"

namespace leaseq {

bool IsFinishedState(std::string_view state) {
  return state == "done" || state == "failed" || state == "cancelled";
}

bool IsTaskState(std::string_view state) {
  return IsFinishedState(state) || state == "waiting" || state == "queued" || state == "running";
}

}  // namespace leaseq
