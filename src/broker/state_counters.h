// StateCounters: the changes of one transaction to the task counters
// (task_state_counts, queue_counts), kept in memory while the pass runs so
// that the store writes each touched counter row once, at commit, instead of
// two or three counter statements per task transition (what the triggers of
// schema versions up to 3 did).
//
// Contract: every insert of a task, change of tasks.state and delete of a
// task is recorded here by the store (Store's state-changing methods), with
// the task's queue, its function ('' for a command) and the exact old and new
// state. Changes() gives the net change per counter row, zeros left out; the
// store writes them in the same transaction, right before COMMIT, and then
// Clear()s. A rolled-back transaction Clear()s; a savepoint that is rolled
// back to Restore()s what Save() took at the savepoint.
//
// Not thread-safe: owned by a Store, used on its thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/task_state.h"

namespace leaseq {

class StateCounters {
 public:
  // One counter row's net change: queue_counts (queue, fn, state) += delta.
  struct Change {
    std::string queue;
    std::string fn;
    TaskState state;
    int64_t delta;
  };

  // A task of (queue, fn) went from `from` to `to` (nothing when equal).
  void Move(std::string_view queue, std::string_view fn, TaskState from, TaskState to);
  // A task of (queue, fn) was inserted in state / deleted in state.
  void Insert(std::string_view queue, std::string_view fn, TaskState state);
  void Remove(std::string_view queue, std::string_view fn, TaskState state);

  // Net changes per (queue, fn, state), by queue then fn then state; rows
  // whose changes cancel out are left out.
  std::vector<Change> Changes() const;
  // Net changes per state (the sum of Changes() over queues and functions).
  std::array<int64_t, kTaskStates.size()> ByState() const;
  bool empty() const { return groups_.empty(); }
  void Clear() { groups_.clear(); }

  // A savepoint's copy: what has been recorded so far, to be put back
  // (`*this = saved`) if the savepoint is rolled back to. Small: one entry
  // per (queue, fn) the transaction touched.
  StateCounters Save() const { return *this; }

 private:
  struct GroupKey {
    std::string queue;
    std::string fn;
  };
  // Transparent: a lookup by string_views builds no strings.
  struct Less {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const int q = std::string_view(a.queue).compare(std::string_view(b.queue));
      return q != 0 ? q < 0 : std::string_view(a.fn) < std::string_view(b.fn);
    }
  };
  using Deltas = std::array<int64_t, kTaskStates.size()>;
  using Groups = std::map<GroupKey, Deltas, Less>;

  Deltas& Group(std::string_view queue, std::string_view fn);

  Groups groups_;
};

}  // namespace leaseq
