// The invariant checker of a chaos run: reads the work directory (reader.h)
// once the cluster has stopped, judges it (invariants.h) and gathers the
// report (report.h). Problems reading it are violations too.
#pragma once

#include <string>

#include "report.h"

namespace leaseq::chaos {

// Checks the work directory DIR.
CheckReport Check(const std::string& dir);

}  // namespace leaseq::chaos
