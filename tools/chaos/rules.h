// The rules behind invariants.h, one file per concern (rules_*.cc), and the
// indexes they share. Internal to the checker: a RuleContext is built once
// per Evaluate() over a Snapshot that outlives it. Not thread-safe (one
// evaluation per context).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "invariants.h"

namespace leaseq::chaos::rules {

// A fault shortly before an attempt was leased may still explain its loss:
// the broker leased it to a worker it did not know was dead, frozen or cut
// off yet. It learns within the lease TTL (heartbeat x liveness), or at once
// from the nanny; this margin covers the rest.
inline constexpr int64_t kPhantomMarginMs = 1000;
// After a partition heals, a worker is registered again within this time
// (its reconnect backoff is 2 s at most, and TCP's retransmissions back off
// while the link is down).
inline constexpr int64_t kReconnectMs = 5000;
// A worker hands a task back only when it drains (or is over its credit):
// more often than this for one task is a lease/release storm, not chance.
inline constexpr int kMaxReleasesByOneWorker = 10;

class RuleContext {
 public:
  RuleContext(const Snapshot& s, Evaluation* out);

  void Violation(const std::string& category, const std::string& detail);
  void Note(const std::string& category, const std::string& detail);

  // A task by id (nullptr if not stored), its done attempt (nullptr if none).
  const StoredTask* Dep(int64_t id) const;
  const StoredAttempt* DoneAttempt(const StoredTask& t) const;
  const std::vector<StoredAttempt>& AttemptsOf(int64_t task_id) const;
  const Execution* Executed(const std::string& key, int64_t attempt_no) const;
  // "t+1200ms" from the snapshot's base.
  std::string Ms(int64_t t) const;
  int64_t LeaseTtlMs() const { return static_cast<int64_t>(s.heartbeat_ms) * s.liveness; }

  const Snapshot& s;
  Tallies& tally;
  std::unordered_map<std::string, const TaskDef*> submitted;  // by key
  std::unordered_map<std::string, const StoredTask*> tasks;   // by key
  std::unordered_map<int64_t, const StoredTask*> by_id;
  std::unordered_map<int64_t, std::vector<StoredAttempt>> attempts;  // by task id, in id order
  std::map<std::pair<std::string, int64_t>, const Execution*> log;    // by (key, attempt_no)

 private:
  Evaluation& out_;
};

std::string Quote(const std::string& s, size_t max = 160);
std::string Join(const std::vector<std::string>& v);

// rules_submission.cc: acknowledged keys stored, batches all or nothing,
// nothing stored that was not submitted.
void CheckSubmissions(RuleContext& c);
// rules_tasks.cc: each task stored as submitted, terminal, its attempts
// numbered and one at a time, its counters, dependencies, final state and
// result.
void CheckTasks(RuleContext& c);
// rules_executions.cc: the side-effect log against the attempts.
void CheckExecutions(RuleContext& c);
// rules_losses.cc: every lost attempt explained by a fault of its worker,
// and blamed as a death only if its worker died.
void CheckLosses(RuleContext& c);
// rules_workers.cc: every end of a worker process has a cause.
void CheckWorkerProcesses(RuleContext& c);

}  // namespace leaseq::chaos::rules
