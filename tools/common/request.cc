#include "tools/common/request.h"

#include <zmq.hpp>

namespace leaseq::tools {

namespace {
std::string BodyMessage(const wire::Message& m) {
  if (!m.body.is_object()) return {};
  auto it = m.body.find("message");
  return it != m.body.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

CallResult Request(Client& client, wire::Command command, nlohmann::json body,
                   std::vector<std::string> blobs) {
  CallResult r;
  // Client::Call leaves an `error` reply in *reply; preset another command
  // so that "the broker said error" can be told from "nothing decoded".
  r.reply.command = wire::Command::kReply;
  Status s = client.Call(wire::Make(command, std::move(body), std::move(blobs)), &r.reply);
  r.message = s.message();
  if (s.ok()) {
    r.outcome = CallOutcome::kOk;
  } else if (s.code() == Status::Code::kUnavailable) {
    r.outcome = CallOutcome::kUnreachable;
  } else if (r.reply.command == wire::Command::kError && BodyMessage(r.reply) == s.message()) {
    // Call copies the broker's message into the Status; a decoding failure
    // has its own wording, so equality tells the two apart.
    auto unavailable = r.reply.body.find("unavailable");
    r.outcome = unavailable != r.reply.body.end() && *unavailable == true ? CallOutcome::kUnavailable
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
