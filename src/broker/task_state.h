// The states and outcomes the store keeps, as enums, and the one mapping
// between them and the text in the database: tasks.state, attempts.outcome,
// workers.state and attempts.blame. The text is part of the file's format
// (users query it with sqlite3, sql/views.sql reads it, schema.sql's CHECK
// constraints list it): it never changes, and task_state_test.cc checks
// that the schema lists exactly these words. C++ code compares and builds
// states only through this mapping; SQL statements may still name a state
// in their own text, which a partial index's condition needs word for word
// (docs/semantics.md has the lifecycle). Header-only, constexpr; thread-safe.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace leaseq {

// tasks.state (docs/semantics.md "Tasks").
enum class TaskState { kWaiting, kQueued, kRunning, kDone, kFailed, kCancelled };
// attempts.outcome: running while the lease is held, then how it ended.
enum class AttemptOutcome { kRunning, kDone, kError, kLost, kReleased };
// workers.state.
enum class WorkerState { kAlive, kLost, kGone };
// attempts.blame: what a lost attempt says about its task (lease_rules.h
// decides it). Attempts that were not lost have none (NULL).
enum class Blame {
  kNone,       // a loss that blames nothing: the worker did not die ('withdrawn')
  kSuspected,  // the worker is gone, not known dead: a partition looks the same ('suspected')
  kDeath,      // the worker's process died ('death')
};

// Every value, in the order of the schema's CHECK lists.
inline constexpr std::array<TaskState, 6> kTaskStates = {
    TaskState::kWaiting, TaskState::kQueued, TaskState::kRunning,
    TaskState::kDone,    TaskState::kFailed, TaskState::kCancelled};
inline constexpr std::array<AttemptOutcome, 5> kAttemptOutcomes = {
    AttemptOutcome::kRunning, AttemptOutcome::kDone, AttemptOutcome::kError, AttemptOutcome::kLost,
    AttemptOutcome::kReleased};
inline constexpr std::array<WorkerState, 3> kWorkerStates = {
    WorkerState::kAlive, WorkerState::kLost, WorkerState::kGone};
inline constexpr std::array<Blame, 3> kBlames = {Blame::kSuspected, Blame::kDeath, Blame::kNone};

// --- the mapping: the database's text of each value ---
constexpr const char* ToText(TaskState s) {
  switch (s) {
    case TaskState::kWaiting: return "waiting";
    case TaskState::kQueued: return "queued";
    case TaskState::kRunning: return "running";
    case TaskState::kDone: return "done";
    case TaskState::kFailed: return "failed";
    case TaskState::kCancelled: return "cancelled";
  }
  return "";
}

constexpr const char* ToText(AttemptOutcome o) {
  switch (o) {
    case AttemptOutcome::kRunning: return "running";
    case AttemptOutcome::kDone: return "done";
    case AttemptOutcome::kError: return "error";
    case AttemptOutcome::kLost: return "lost";
    case AttemptOutcome::kReleased: return "released";
  }
  return "";
}

constexpr const char* ToText(WorkerState s) {
  switch (s) {
    case WorkerState::kAlive: return "alive";
    case WorkerState::kLost: return "lost";
    case WorkerState::kGone: return "gone";
  }
  return "";
}

constexpr const char* ToText(Blame b) {
  switch (b) {
    case Blame::kSuspected: return "suspected";
    case Blame::kDeath: return "death";
    case Blame::kNone: break;
  }
  return "withdrawn";
}

namespace task_state_internal {
template <typename E, size_t N>
constexpr std::optional<E> FromText(const std::array<E, N>& all, std::string_view text) {
  for (E e : all) {
    if (text == ToText(e)) return e;
  }
  return std::nullopt;
}
}  // namespace task_state_internal

// --- and back: nullopt for a text that is not one of them ---
constexpr std::optional<TaskState> TaskStateFromText(std::string_view text) {
  return task_state_internal::FromText(kTaskStates, text);
}
constexpr std::optional<AttemptOutcome> AttemptOutcomeFromText(std::string_view text) {
  return task_state_internal::FromText(kAttemptOutcomes, text);
}
constexpr std::optional<WorkerState> WorkerStateFromText(std::string_view text) {
  return task_state_internal::FromText(kWorkerStates, text);
}
constexpr std::optional<Blame> BlameFromText(std::string_view text) {
  return task_state_internal::FromText(kBlames, text);
}

// Finished: done, failed or cancelled. Only retry takes a task out of
// them, and only they can be purged.
constexpr bool IsFinished(TaskState s) {
  return s == TaskState::kDone || s == TaskState::kFailed || s == TaskState::kCancelled;
}
// Failed or cancelled: what retry puts back, and what fails a dependent.
constexpr bool IsFailedOrCancelled(TaskState s) {
  return s == TaskState::kFailed || s == TaskState::kCancelled;
}

}  // namespace leaseq
