// Text that leaseq-ctl prints for the broker's replies, kept pure (JSON in,
// text out) so the unit tests can pin the formats scripts may rely on.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace leaseq::tools {

// `status` reply -> one line per state in lifecycle order, then the workers:
//   waiting    0
//   queued     12
//   ...
//   workers    alive 4, lost 1, gone 2
Status FormatStatus(const nlohmann::json& body, std::string* out);

// `workers` reply (workers[] of {name, pid, host, state, slots, running})
// -> a table with a header row, columns aligned, separated by two spaces.
Status FormatWorkers(const nlohmann::json& body, std::string* out);

// `show` reply -> the reply body without the request id, as indented JSON.
std::string FormatShow(const nlohmann::json& body);

}  // namespace leaseq::tools
