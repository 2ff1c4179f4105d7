// The simulator's invariants: the chaos checker's promises
// (docs/reliability.md, "What the checker checks"), read from the run's
// database and from what the simulation knows for certain (which process
// died, which one read which task, which command ran to its end).
// Stateless functions over an open database; not thread-safe per database.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <set>
#include <string>
#include <vector>

#include "scenario.h"
#include "sim_worker.h"

namespace leaseq::sim {

// Cheap, after every broker pass: at most one running attempt per task.
void CheckPass(SQLite::Database& db, std::vector<std::string>* violations);

// At the end of a run, the work settled.
void CheckEnd(SQLite::Database& db, const Scenario& scenario, const Record& record,
              const std::set<std::string>& acked_keys, std::vector<std::string>* violations);

}  // namespace leaseq::sim
