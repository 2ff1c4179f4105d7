#include "invariants.h"

#include <algorithm>
#include <sstream>

#include "rules.h"

namespace leaseq::chaos {

namespace rules {

RuleContext::RuleContext(const Snapshot& snap, Evaluation* out) : s(snap), tally(out->tallies), out_(*out) {
  for (const auto& t : s.submitted) submitted.emplace(t.key, &t);
  for (const auto& t : s.tasks) {
    tasks[t.key] = &t;
    by_id[t.id] = &t;
  }
  for (const auto& a : s.attempts) attempts[a.task_id].push_back(a);
  for (const auto& e : s.executions) log[{e.key, e.attempt_no}] = &e;
}

void RuleContext::Violation(const std::string& category, const std::string& detail) {
  out_.violations.push_back({category, detail});
}

void RuleContext::Note(const std::string& category, const std::string& detail) {
  out_.notes.push_back({category, detail});
}

const StoredTask* RuleContext::Dep(int64_t id) const {
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : it->second;
}

const std::vector<StoredAttempt>& RuleContext::AttemptsOf(int64_t task_id) const {
  static const std::vector<StoredAttempt> kNone;
  auto it = attempts.find(task_id);
  return it == attempts.end() ? kNone : it->second;
}

const StoredAttempt* RuleContext::DoneAttempt(const StoredTask& t) const {
  for (const auto& a : AttemptsOf(t.id)) {
    if (a.outcome == "done") return &a;
  }
  return nullptr;
}

const Execution* RuleContext::Executed(const std::string& key, int64_t attempt_no) const {
  auto it = log.find({key, attempt_no});
  return it == log.end() ? nullptr : it->second;
}

std::string RuleContext::Ms(int64_t t) const {
  std::ostringstream o;
  o << "t+" << (t - s.base_ms) << "ms";
  return o.str();
}

std::string Quote(const std::string& s, size_t max) {
  std::string t = s.size() > max ? s.substr(0, max) + "..." : s;
  for (char& c : t) {
    if (c == '\n') c = ' ';
  }
  return "'" + t + "'";
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace rules

Evaluation Evaluate(const Snapshot& s) {
  Evaluation e;
  Tallies& t = e.tallies;
  t.manifest_tasks = static_cast<int>(s.submitted.size());
  t.db_tasks = static_cast<int>(s.tasks.size());
  for (const auto& task : s.tasks) t.states[task.state]++;
  for (const auto& a : s.attempts) {
    if (a.outcome == "lost") t.blame[a.blame.empty() ? "none" : a.blame]++;
    t.attempts++;
    t.outcomes[a.outcome]++;
  }
  for (const auto& [from, to] : s.stalls) {
    t.stalls++;
    t.longest_stall_ms = std::max(t.longest_stall_ms, to - from);
  }
  rules::RuleContext c(s, &e);
  rules::CheckSubmissions(c);
  rules::CheckTasks(c);
  rules::CheckExecutions(c);
  rules::CheckLosses(c);
  rules::CheckWorkerProcesses(c);
  return e;
}

std::vector<Violation> CheckInvariants(const Snapshot& s) { return Evaluate(s).violations; }

}  // namespace leaseq::chaos
