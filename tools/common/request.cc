#include "tools/common/request.h"

#include <zmq.hpp>

namespace leaseq::tools {

CallResult Request(Client& client, wire::Command command, nlohmann::json body,
                   std::vector<std::string> blobs) {
  CallResult r;
  // A Message starts as `error`: preset another command, so that a Status
  // that is not the broker's answer (a bad endpoint) is not taken for one.
  r.reply.command = wire::Command::kReply;
  Status s = client.Call(wire::Make(command, std::move(body), std::move(blobs)), &r.reply);
  r.message = s.message();
  if (s.ok()) {
    r.outcome = CallOutcome::kOk;
  } else if (s.code() == Status::Code::kUnavailable) {
    r.outcome = CallOutcome::kUnreachable;
  } else if (s.code() == Status::Code::kInvalid && r.reply.command == wire::Command::kError) {
    // The broker answered `error`: its `unavailable` field says whether to
    // try again later (never its wording).
    r.outcome = wire::RefusalOf(r.reply.body) == wire::Refusal::kUnavailable ? CallOutcome::kUnavailable
                                                                             : CallOutcome::kRefused;
  } else {
    r.outcome = CallOutcome::kBadReply;
  }
  return r;
}

Status CheckEndpoint(const std::string& endpoint) {
  try {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Invalid("bad broker endpoint '" + endpoint + "': " + e.what());
  }
  return Status::Ok();
}

}  // namespace leaseq::tools
