// /metrics: the Prometheus text exposition format (version 0.0.4), with HELP
// and TYPE lines, names after Prometheus' conventions (leaseq_ prefix,
// _total counters, seconds and bytes). Gauges of tasks and workers are read
// from the database in one read transaction (counters the triggers keep, a
// few index seeks per queue, the workers table); counters and histograms of
// events come from BrokerMetrics (since the broker started).
// Thread-compatible: the caller serializes use of the reader.
#pragma once

#include <cstdint>
#include <string>

#include "broker/broker_metrics.h"
#include "common/status.h"

namespace leaseq {

class Store;

Status RenderMetrics(Store& reader, const BrokerMetrics::Values& v, const std::string& db_path,
                     int64_t now_ms, std::string* out);

}  // namespace leaseq
