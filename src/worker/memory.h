// Memory sizes and process-tree memory, for the nanny's --memory-limit.
//
// ParseMemorySize reads "400MB", "400M", "1GiB", "1.5G", "512k", "1000000":
// a number (a decimal fraction allowed) and an optional unit, case-insensitive,
// blanks between allowed. As in Dask (dask.utils.parse_bytes), units without
// "i" are decimal: k/kB = 10^3, M/MB = 10^6, G/GB = 10^9, T/TB = 10^12;
// Ki/KiB = 2^10, Mi/MiB = 2^20, Gi/GiB = 2^30, Ti/TiB = 2^40; B or none = 1.
// The size must be at least 1 byte.
//
// ProcessTreeRss sums the resident memory of a process and all its
// descendants, found by scanning /proc (ppid of every process). A process
// that ends during the scan is skipped. Linux only.
//
// All functions are stateless and thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace leaseq::worker {

Status ParseMemorySize(const std::string& text, int64_t* bytes);

// root and every process below it (root first). Empty when root is gone.
std::vector<pid_t> ProcessTree(pid_t root);

// Resident bytes of root and its descendants.
Status ProcessTreeRss(pid_t root, int64_t* bytes);

// Human form of a size, e.g. "381.2 MB" (decimal units), for log lines.
std::string FormatBytes(int64_t bytes);

}  // namespace leaseq::worker
