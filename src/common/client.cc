#include "common/client.h"

#include <chrono>
#include <random>

#include "common/config.h"
#include "common/transport.h"

namespace leaseq {

Client::Client(std::string endpoint, int timeout_ms, int tries, curve::ClientSettings curve)
    : endpoint_(std::move(endpoint)),
      timeout_ms_(timeout_ms > 0 ? timeout_ms : config::kClientTimeoutMs),
      tries_(tries > 0 ? tries : config::kClientTries),
      curve_(std::move(curve)),
      context_(1),
      next_id_(static_cast<int64_t>(std::random_device{}() & 0x7fffffff)) {}

Status Client::Call(wire::Message request, wire::Message* reply) {
  // Declared before the sockets: its PAIR is closed after each of them.
  curve::HandshakeMonitor monitor;
  for (int attempt = 0; attempt < tries_; ++attempt) {
    const int64_t id = next_id_++;
    request.body[wire::field::kId] = id;
    zmq::socket_t socket(context_, zmq::socket_type::dealer);
    transport::ApplyCommonOptions(socket);
    socket.set(zmq::sockopt::linger, 0);
    curve::ApplyClient(socket, curve_);
    // Best effort: without a monitor a refusal is only a timeout.
    (void)monitor.Attach(context_, socket, curve_, endpoint_);
    // Destroyed before the socket on every way out of this try: monitoring
    // must stop while the socket is open (see HandshakeMonitor::Stop).
    struct StopMonitor {
      curve::HandshakeMonitor& m;
      ~StopMonitor() { m.Stop(); }
    } stop_monitor{monitor};
    try {
      socket.connect(endpoint_);
    } catch (const zmq::error_t& e) {
      return Status::Invalid("bad broker endpoint '" + endpoint_ + "': " + e.what());
    }
    // The first send may find no connection yet; DEALER queues it once the
    // pipe exists, so wait for the socket to be writable within the timeout.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    bool sent = false;
    while (!sent && std::chrono::steady_clock::now() < deadline) {
      sent = transport::Send(socket, request);
      if (!sent) {
        zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLOUT, 0};
        transport::Poll(&item, 1, std::chrono::milliseconds(20));
      }
    }
    while (sent) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                                 {monitor.handle(), 0, ZMQ_POLLIN, 0}};
      transport::Poll(items, monitor.handle() != nullptr ? 2 : 1, left);
      if (monitor.Poll()) return Status::Unavailable(monitor.refusal());
      if ((items[0].revents & ZMQ_POLLIN) == 0) continue;
      std::string unused;
      Status decoded;
      if (!transport::Receive(socket, false, &unused, reply, &decoded)) continue;
      if (decoded.ok()) decoded = wire::Validate(wire::Role::kClient, reply->command, reply->body);
      if (!decoded.ok()) return Status::IoError("bad reply from broker: " + decoded.message());
      auto rid = reply->body.find(wire::field::kId);
      if (rid != reply->body.end() && rid->is_number_integer() && rid->get<int64_t>() != id) {
        continue;  // a reply to an earlier try
      }
      if (reply->command == wire::Command::kError) {
        return Status::Invalid(wire::ErrorMessage(reply->body, "the broker refused the request"));
      }
      return Status::Ok();
    }
  }
  // A refused CURVE handshake can look like silence: say so.
  std::string hint = curve_.enabled
                         ? " (is it running? with CURVE, a broker that refuses our key, or "
                           "whose key is not " + curve_.server_file + ", may also look like "
                           "silence)"
                         : " (is it running? a broker that requires CURVE also refuses clients "
                           "without --curve-secret/--curve-server)";
  if (!monitor.last_failure().empty()) hint = "; last handshake: " + monitor.last_failure();
  return Status::Unavailable("no answer from the broker at " + endpoint_ + " after " +
                             std::to_string(tries_) + " tries of " +
                             std::to_string(timeout_ms_) + " ms" + hint);
}

}  // namespace leaseq
