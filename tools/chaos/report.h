// The chaos run's report: what the run was (RunInfo), the tallies of the
// invariants (Tallies), and every violation and note by category with a few
// examples; printed as the table of docs/reliability.md. Not thread-safe.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "invariants.h"
#include "reader.h"

namespace leaseq::chaos {

struct CheckReport : RunInfo, Tallies {
  int faults_total() const;

  // category -> examples (all counted, a few kept).
  std::map<std::string, int> violation_counts;
  std::map<std::string, std::vector<std::string>> violation_examples;
  std::map<std::string, int> note_counts;
  std::map<std::string, std::vector<std::string>> note_examples;

  void Violation(const std::string& category, const std::string& detail);
  void Note(const std::string& category, const std::string& detail);
  int violations() const;
};

// The table: faults, tasks, attempts, re-executions, violations.
void PrintReport(const CheckReport& r, FILE* out, int examples_per_category = 5);

}  // namespace leaseq::chaos
