// Client: the simulated submitter. Each of the scenario's batches is sent
// as one `submit` at its time and sent again, on a new connection, until a
// reply acknowledges it (after an error shortly, after silence every 3 s),
// as leaseq-submit does; resubmission is idempotent by key. The keys of the
// acknowledged batches are what the checks require to be stored.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "network.h"
#include "scenario.h"
#include "sim_clock.h"

namespace leaseq::sim {

class Client {
 public:
  Client(const Scenario& s, SimClock* clock, Network* net);
  // Reads replies and sends what is due now.
  void Step();
  // When Step() next has something to do (INT64_MAX: nothing).
  int64_t NextEventMs() const;
  bool all_acked() const;
  const std::set<std::string>& acked() const { return acked_; }

 private:
  struct Batch {
    int conn = -1;
    int64_t sent_ms = 0;
    bool acked = false;
  };
  static std::string Id(size_t b) { return "batch-" + std::to_string(b); }
  void Send(size_t b);

  const Scenario& s_;
  SimClock* clock_;
  Network* net_;
  std::vector<Batch> batches_;
  std::set<std::string> acked_;
};

}  // namespace leaseq::sim
