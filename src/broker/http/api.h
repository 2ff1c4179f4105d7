// The JSON API the dashboard reads (/api/status, /api/workers, /api/tasks,
// /api/tasks/KEY) and the health check. Each reads the database in one read
// transaction through the store's read-only queries (index ranges and
// counters, bounded by a limit: none scans the tasks).
// Thread-compatible: the caller serializes use of the reader.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "broker/broker_metrics.h"
#include "common/status.h"

namespace leaseq {

class Store;

// Counts by state, workers by state, queues, totals since start, recent
// failures and losses. writable: retry and cancel are offered.
Status ApiStatus(Store& reader, const BrokerMetrics::Values& v, int64_t now_ms, bool writable,
                 nlohmann::json* out);
// One page of workers (by name), with the times each was lost since start.
Status ApiWorkers(Store& reader, const BrokerMetrics::Values& v, int64_t offset, int64_t limit,
                  nlohmann::json* out);
// At most limit tasks (leaseq-ctl list's order and filters).
Status ApiTasks(Store& reader, const std::string& state, const std::string& queue, int64_t limit,
                nlohmann::json* out);
// One task with its attempts (NotFound: no such key).
Status ApiTask(Store& reader, const std::string& key, nlohmann::json* out);
// Ok when the database reads and the broker's last commit succeeded within
// max_quiet_ms; Unavailable with the reason otherwise.
Status Health(Store& reader, const BrokerMetrics::Values& v, int64_t steady_now_ms,
              int64_t max_quiet_ms);

}  // namespace leaseq
