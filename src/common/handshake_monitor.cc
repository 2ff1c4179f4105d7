#include "common/handshake_monitor.h"

#include <atomic>
#include <cstdio>
#include <cstring>

namespace leaseq::curve {

namespace {

// Handshake failures without detail before a client calls it a refusal.
constexpr int kFailuresForRefusal = 3;

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace

Status HandshakeMonitor::Attach(zmq::context_t& context, zmq::socket_t& s,
                                const ClientSettings& settings, const std::string& endpoint) {
  static std::atomic<uint64_t> counter{0};
  Detach();
  settings_ = settings;
  endpoint_ = endpoint;
  refusal_.clear();
  handshakes_ = 0;
  reconnected_ = false;
  const std::string address = "inproc://leaseq-handshake-monitor-" + std::to_string(counter++);
  const int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(s.handle(), address.c_str(), events) != 0) {
    watched_ = nullptr;
    return Status::Unavailable(std::string("cannot monitor the socket: ") +
                               zmq_strerror(zmq_errno()));
  }
  watched_ = s.handle();
  try {
    auto pair = std::make_unique<zmq::socket_t>(context, zmq::socket_type::pair);
    pair->set(zmq::sockopt::linger, 0);
    pair->connect(address);
    pair_ = std::move(pair);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("cannot monitor the socket: ") + e.what());
  }
  return Status::Ok();
}

void HandshakeMonitor::Stop() {
  if (watched_ != nullptr) zmq_socket_monitor(watched_, nullptr, 0);
  watched_ = nullptr;
}

void HandshakeMonitor::Detach() {
  if (pair_) pair_->close();
  pair_.reset();
}

bool HandshakeMonitor::Poll() {
  while (pair_) {
    zmq::message_t head;
    try {
      if (!pair_->recv(head, zmq::recv_flags::dontwait)) break;
      while (head.more()) {  // the endpoint frame: not needed
        zmq::message_t rest;
        if (!pair_->recv(rest, zmq::recv_flags::dontwait)) break;
        if (!rest.more()) break;
      }
    } catch (const zmq::error_t&) {
      break;  // EINTR: a signal landed; the next Poll() reads on
    }
    if (head.size() < 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, head.data(), sizeof event);
    std::memcpy(&value, static_cast<const char*>(head.data()) + sizeof event, sizeof value);
    const std::string at = "the broker at " + endpoint_;
    std::string failure;
    bool definitive = false;
    switch (event) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        failures_in_a_row_ = 0;
        last_failure_.clear();
        if (++handshakes_ > 1) reconnected_ = true;
        continue;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        definitive = true;
        failure = at + " refused our CURVE key (ZAP status " + std::to_string(value) +
                  "): our public key " + settings_.own.public_key + " (of " +
                  settings_.secret_file +
                  ") is in no .pub file of the broker's --curve-allow directory";
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
          definitive = true;
          failure = settings_.enabled
                        ? at + " does not use CURVE, but this peer does (--curve-secret/"
                               "--curve-server or LEASEQ_CURVE_SECRET/LEASEQ_CURVE_SERVER): use "
                               "the same security on both sides"
                        : at + " requires CURVE and this peer has no keys: give --curve-secret "
                               "FILE (our key pair's .secret) and --curve-server FILE (the "
                               "broker's .pub), or set LEASEQ_CURVE_SECRET and "
                               "LEASEQ_CURVE_SERVER";
        } else {
          failure = "protocol error " + Hex(value) + " in the handshake with " + at +
                    (settings_.enabled ? " (is " + settings_.server_file +
                                             " the broker's public key?)"
                                       : std::string());
        }
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        failure = settings_.enabled
                      ? "the CURVE handshake with " + at + " failed (the broker hung up: does "
                        "it use CURVE, and is " + settings_.server_file + " its public key?)"
                      : "the handshake with " + at + " failed (" +
                            zmq_strerror(static_cast<int>(value)) +
                            "): a broker that requires CURVE hangs up on a peer without keys: "
                            "give --curve-secret FILE and --curve-server FILE, or set "
                            "LEASEQ_CURVE_SECRET and LEASEQ_CURVE_SERVER";
        break;
      default:
        continue;
    }
    ++failures_in_a_row_;
    last_failure_ = failure;
    if (definitive || failures_in_a_row_ >= kFailuresForRefusal) refusal_ = failure;
  }
  return !refusal_.empty();
}

}  // namespace leaseq::curve
