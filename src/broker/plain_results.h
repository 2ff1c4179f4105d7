// PlainResults: the body of a `results` frame as leaseq-worker writes it,
// read straight into AttemptResults without building a json tree.
//
// The broker takes tens of thousands of results a second; parsing each
// frame into nlohmann::json objects and reading the fields back out cost
// about 14,000 instructions of its ~94,000 per task (callgrind, execution
// alone). Read accepts only bodies that the json path would accept with the
// same results: no whitespace; items of fields among attempt, exit_code,
// signal, error and permanent, each at most once, attempt and exit_code
// present; integers of at most 18 digits; strings of printable ASCII
// without escapes; no more blobs than items. It says false for anything
// else, and the broker then parses the body as json and judges it as
// before (clear errors for bad items included).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/store.h"

namespace leaseq {

// The results of `body`, with blob i as the stdout of item i. Leaves *out
// unspecified when it says false.
bool ReadPlainResults(std::string_view body, std::vector<std::string>* blobs,
                      std::vector<AttemptResult>* out);

}  // namespace leaseq
