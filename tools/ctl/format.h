// Text that leaseq-ctl prints for the broker's replies, kept pure (JSON in,
// text out) so the unit tests can pin the formats scripts may rely on.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace leaseq::tools {

// `status` reply -> one line per state in lifecycle order, then the workers
// and the paused queues (when any):
//   waiting    0
//   queued     12
//   ...
//   workers    alive 4, lost 1, gone 2
//   paused     gpu
// then, when the reply has queues{}, a blank line and a table of them
// (QUEUE STATE WAITING QUEUED RUNNING DONE FAILED CANCELLED OLDEST QUEUED),
// and a line for each queue with queued tasks no live worker can serve:
//   queue gpu: 5 queued, no live worker serves it
//   queue default: 2 queued for function 'resize', which no live worker of the queue has
Status FormatStatus(const nlohmann::json& body, std::string* out);

// `workers` reply (workers[] of {name, pid, host, state, slots, running,
// prefetched, queues[], fns[]}) -> a table with a header row, columns
// aligned, separated by two spaces; lists joined by commas.
Status FormatWorkers(const nlohmann::json& body, std::string* out);

// `list` reply (tasks[]) -> a table: KEY STATE QUEUE ATTEMPTS AGE ERROR, AGE
// being the time in its state; a queued task that cannot go out says why in
// ERROR ("queue paused", "not served: no live worker serves queue gpu").
Status FormatList(const nlohmann::json& body, std::string* out);
// The same tasks as JSON Lines: one object per task, as the broker sent it.
Status FormatListJson(const nlohmann::json& body, std::string* out);

// `show` reply -> the reply body without the request id, as indented JSON.
std::string FormatShow(const nlohmann::json& body);

}  // namespace leaseq::tools
