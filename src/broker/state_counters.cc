// StateCounters: the in-memory deltas of one transaction's task counters.
#include "broker/state_counters.h"

namespace leaseq {

namespace {
constexpr size_t Index(TaskState s) { return static_cast<size_t>(s); }
// Deltas are indexed by the enum's value, in the order of kTaskStates.
constexpr bool InOrder() {
  for (size_t i = 0; i < kTaskStates.size(); ++i) {
    if (Index(kTaskStates[i]) != i) return false;
  }
  return true;
}
static_assert(InOrder());
}  // namespace

StateCounters::Deltas& StateCounters::Group(std::string_view queue, std::string_view fn) {
  struct View {
    std::string_view queue, fn;
  };
  auto it = groups_.find(View{queue, fn});
  if (it == groups_.end()) {
    it = groups_.emplace(GroupKey{std::string(queue), std::string(fn)}, Deltas{}).first;
  }
  return it->second;
}

void StateCounters::Move(std::string_view queue, std::string_view fn, TaskState from,
                         TaskState to) {
  if (from == to) return;
  Deltas& d = Group(queue, fn);
  --d[Index(from)];
  ++d[Index(to)];
}

void StateCounters::Insert(std::string_view queue, std::string_view fn, TaskState state) {
  ++Group(queue, fn)[Index(state)];
}

void StateCounters::Remove(std::string_view queue, std::string_view fn, TaskState state) {
  --Group(queue, fn)[Index(state)];
}

std::vector<StateCounters::Change> StateCounters::Changes() const {
  std::vector<Change> out;
  for (const auto& [key, deltas] : groups_) {
    for (TaskState s : kTaskStates) {
      if (deltas[Index(s)] != 0) out.push_back({key.queue, key.fn, s, deltas[Index(s)]});
    }
  }
  return out;
}

std::array<int64_t, kTaskStates.size()> StateCounters::ByState() const {
  Deltas sum{};
  for (const auto& [key, deltas] : groups_) {
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += deltas[i];
  }
  return sum;
}

}  // namespace leaseq
