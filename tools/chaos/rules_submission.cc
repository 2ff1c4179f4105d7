// Submissions: what clients were told is stored, batches all or nothing.
#include <map>

#include "rules.h"

namespace leaseq::chaos::rules {

void CheckSubmissions(RuleContext& c) {
  for (const auto& t : c.s.tasks) {
    if (c.submitted.count(t.key) == 0) c.Violation("unknown task in the database", t.key);
  }
  c.tally.acked_keys = static_cast<int>(c.s.acked_keys.size());
  for (const auto& k : c.s.acked_keys) {
    if (c.tasks.count(k) == 0) {
      c.Violation("acknowledged task missing", k + " (printed by leaseq-submit, not in the database)");
    }
  }
  std::map<std::string, std::pair<int, int>> batches;  // batch -> (present, total)
  for (const auto& [key, t] : c.submitted) {
    auto& b = batches[t->batch];
    b.second++;
    if (c.tasks.count(key) != 0) b.first++;
  }
  for (const auto& k : c.s.client_kills) {
    c.tally.clients_killed++;
    const auto& b = batches[k.batch];
    if (k.keys_printed) {
      c.tally.clients_killed_printed++;
    } else if (k.resubmit) {
      c.tally.clients_killed_resubmitted++;
    } else if (b.first > 0) {
      c.tally.clients_killed_stored++;
    } else {
      c.tally.clients_killed_absent++;
    }
  }
  for (const auto& [batch, b] : batches) {
    const bool client = batch.rfind("client-", 0) == 0;
    if (b.first != 0 && b.first != b.second) {
      c.Violation("partially stored submission", batch + ": " + std::to_string(b.first) + " of " +
                                                     std::to_string(b.second) + " tasks stored");
    }
    if (!client && b.first == 0) {
      // A wave is retried until acknowledged; the runner reports a wave it gave up on.
      c.Note("wave not stored", batch);
    }
  }
}

}  // namespace leaseq::chaos::rules
