#include "broker/store_ops.h"

#include "broker/task_state.h"

namespace leaseq {

bool IsFinishedState(std::string_view state) {
  const std::optional<TaskState> s = TaskStateFromText(state);
  return s && IsFinished(*s);
}

bool IsTaskState(std::string_view state) { return TaskStateFromText(state).has_value(); }

}  // namespace leaseq
