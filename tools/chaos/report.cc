#include "report.h"

#include <algorithm>

#include "workdir.h"

namespace leaseq::chaos {

namespace {
constexpr size_t kExamplesKept = 20;
}  // namespace

int CheckReport::faults_total() const {
  int n = 0;
  for (const auto& [k, v] : faults) n += v;
  return n;
}

void CheckReport::Violation(const std::string& category, const std::string& detail) {
  violation_counts[category]++;
  auto& ex = violation_examples[category];
  if (ex.size() < kExamplesKept) ex.push_back(detail);
}

void CheckReport::Note(const std::string& category, const std::string& detail) {
  note_counts[category]++;
  auto& ex = note_examples[category];
  if (ex.size() < kExamplesKept) ex.push_back(detail);
}

int CheckReport::violations() const {
  int n = 0;
  for (const auto& [k, v] : violation_counts) n += v;
  return n;
}

namespace {

void Row(FILE* out, const std::string& label, const std::string& value) {
  fprintf(out, "  %-44s %s\n", label.c_str(), value.c_str());
}
std::string N(int64_t v) { return std::to_string(v); }
std::string Ratio(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
int Get(const std::map<std::string, int>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

}  // namespace

void PrintReport(const CheckReport& r, FILE* out, int examples_per_category) {
  fprintf(out, "\n== leaseq-chaos report: seed %llu, %d s of faults, %d workers x %d slots, "
               "heartbeat %d ms x %d, allowed-failures %d ==\n",
          static_cast<unsigned long long>(r.seed), r.seconds, r.workers, r.slots, r.heartbeat_ms,
          r.liveness, r.allowed_failures);
  fprintf(out, "faults injected\n");
  std::vector<std::pair<const char*, const char*>> kinds = {
      {files::kWorkerKill, "worker SIGKILL"},       {files::kWorkerTerm, "worker SIGTERM (drain)"},
      {files::kWorkerStop, "worker SIGSTOP, later SIGCONT"}, {files::kBrokerKill, "broker SIGKILL + restart"},
      {files::kBrokerTerm, "broker SIGTERM + restart"},  {files::kClientKill, "leaseq-submit --file SIGKILLed"}};
  if (r.net_faults) {
    kinds.push_back({files::kNetCut, "network: a worker's link cut, healed"});
    kinds.push_back({files::kNetCutAll, "network: every worker's link cut, healed"});
    kinds.push_back({files::kNetFlap, "network: a worker's link flapping"});
  }
  for (const auto& [k, label] : kinds) {
    std::string v = N(Get(r.faults, k));
    if (Get(r.skipped, k) > 0) v += "   (" + N(Get(r.skipped, k)) + " skipped)";
    Row(out, label, v);
  }
  Row(out, "worker killed by a poison task", N(r.poison_kills));
  const int total = r.faults_total() + r.poison_kills;
  Row(out, "total", N(total));
  fprintf(out, "tasks\n");
  Row(out, "submitted (manifest) / in the database", N(r.manifest_tasks) + " / " + N(r.db_tasks));
  Row(out, "acknowledged keys (printed by leaseq-submit)", N(r.acked_keys));
  Row(out, "killed clients: acked/unacked-stored/absent/resent",
      N(r.clients_killed_printed) + " / " + N(r.clients_killed_stored) + " / " +
          N(r.clients_killed_absent) + " / " + N(r.clients_killed_resubmitted) + " (of " +
          N(r.clients_killed) + ")");
  std::string states;
  for (const auto& [s, n] : r.states) states += (states.empty() ? "" : ", ") + s + " " + N(n);
  Row(out, "final states", states);
  Row(out, "failed as planned: doomed / poison", N(r.failed_doomed) + " / " + N(r.failed_poison));
  Row(out, "failed because a dependency failed", N(r.failed_by_dependency));
  Row(out, "failed: on allowed-failures+1 worker deaths", N(r.failed_collateral));
  fprintf(out, "attempts\n");
  std::string outcomes;
  for (const auto& [s, n] : r.outcomes) outcomes += (outcomes.empty() ? "" : ", ") + s + " " + N(n);
  Row(out, "attempts", N(r.attempts) + " (" + outcomes + ")");
  if (r.net_faults) {
    Row(out, "lost: worker killed / frozen / cut off / draining",
        N(r.lost_killed) + " / " + N(r.lost_stopped) + " / " + N(r.lost_cut) + " / " + N(r.lost_drained));
  } else {
    Row(out, "lost: worker killed / frozen / draining", N(r.lost_killed) + " / " + N(r.lost_stopped) + " / " +
                                                          N(r.lost_drained));
  }
  Row(out, "lost: blamed as a death / suspected / withdrawn",
      N(Get(r.blame, "death")) + " / " + N(Get(r.blame, "suspected")) + " / " + N(Get(r.blame, "withdrawn")));
  Row(out, r.net_faults ? "lost: leased to a dead/frozen/cut-off worker" : "lost: leased to an already dead/frozen worker",
      N(r.lost_phantom));
  Row(out, "lost: no fault, during a machine stall", N(r.lost_stall) + " (stalls of the runner >= 150 ms: " +
                                                          N(r.stalls) + ", longest " + N(r.longest_stall_ms) + " ms)");
  std::string causes;
  for (const auto& [s, n] : r.reexec_by_cause) causes += (causes.empty() ? "" : ", ") + s + " " + N(n);
  Row(out, "re-executions (attempts beyond the first)", N(r.reexecutions) + " (after " + (causes.empty() ? "-" : causes) + ")");
  const int fault_reexec = Get(r.reexec_by_cause, "lost") + Get(r.reexec_by_cause, "released");
  Row(out, "re-executions per fault (after lost/released)",
      total > 0 ? Ratio(static_cast<double>(fault_reexec) / total) : "-");
  Row(out, "executions (side-effect log)", N(r.executions) + " (leased but never started: " +
                                               N(r.attempts_never_started) + ")");
  Row(out, "duplicate executions of done tasks", N(r.duplicate_executions));
  fprintf(out, "violations\n");
  Row(out, "violations", N(r.violations()));
  for (const auto& [cat, n] : r.violation_counts) {
    fprintf(out, "  VIOLATION %s: %d\n", cat.c_str(), n);
    const auto& ex = r.violation_examples.at(cat);
    for (size_t i = 0; i < ex.size() && static_cast<int>(i) < examples_per_category; ++i) {
      fprintf(out, "      %s\n", ex[i].c_str());
    }
  }
  for (const auto& [cat, n] : r.note_counts) {
    fprintf(out, "  note: %s: %d\n", cat.c_str(), n);
    const auto& ex = r.note_examples.at(cat);
    for (size_t i = 0; i < ex.size() && static_cast<int>(i) < std::min(examples_per_category, 3); ++i) {
      fprintf(out, "      %s\n", ex[i].c_str());
    }
  }
  fprintf(out, "%s\n", r.violations() == 0 ? "RESULT: no violations" : "RESULT: VIOLATIONS FOUND");
}

}  // namespace leaseq::chaos
