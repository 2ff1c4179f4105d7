#include "checker.h"

namespace leaseq::chaos {

CheckReport Check(const std::string& dir) {
  WorkDir w;
  const bool readable = ReadWorkDir(dir, &w);
  CheckReport r;
  static_cast<RunInfo&>(r) = w.run;
  for (const auto& v : w.violations) r.Violation(v.category, v.detail);
  for (const auto& n : w.notes) r.Note(n.category, n.detail);
  if (!readable) return r;
  Evaluation e = Evaluate(w.snapshot);
  static_cast<Tallies&>(r) = e.tallies;
  for (const auto& v : e.violations) r.Violation(v.category, v.detail);
  for (const auto& n : e.notes) r.Note(n.category, n.detail);
  return r;
}

}  // namespace leaseq::chaos
