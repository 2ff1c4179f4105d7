// Request: one client request to the broker (over leaseq::Client's Lazy
// Pirate), with the way it failed sorted out, so that both tools print the
// same messages and pick the same exit code for the same failure:
//   kOk           the broker answered `reply`; CallResult::reply holds it
//   kRefused      the broker answered `error`; reply.body holds its fields
//                 (`message`, and e.g. `index` for a refused submission)
//   kUnavailable  the broker answered `error` with `unavailable`: it could
//                 not store anything now (full disk); try again later
//   kUnreachable  no answer within timeout x tries, or the broker refused
//                 the connection itself (CURVE: unknown key, no key, wrong
//                 broker key; the message says which)
//   kBadReply     an answer this client cannot decode, or a bad endpoint
// Thread-compatible, like Client.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/protocol.h"
#include "common/status.h"

namespace leaseq::tools {

enum class CallOutcome { kOk, kRefused, kUnavailable, kUnreachable, kBadReply };

struct CallResult {
  CallOutcome outcome = CallOutcome::kBadReply;
  std::string message;  // empty when kOk
  wire::Message reply;
  bool ok() const { return outcome == CallOutcome::kOk; }
};

CallResult Request(Client& client, wire::Command command,
                   nlohmann::json body = nlohmann::json::object(),
                   std::vector<std::string> blobs = {});

// Whether ZeroMQ accepts endpoint for connect(). Checked before the first
// request so that a typo is reported as bad usage, not as an outage.
Status CheckEndpoint(const std::string& endpoint);

}  // namespace leaseq::tools
