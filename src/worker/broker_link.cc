#include "worker/broker_link.h"

#include <algorithm>
#include <cstdio>

#include "common/config.h"
#include "common/log.h"
#include "common/transport.h"

namespace leaseq::worker {

namespace {
constexpr int64_t kRefusalLogEveryMs = 30000;
}  // namespace

BrokerLink::BrokerLink(zmq::context_t& context, std::string endpoint, curve::ClientSettings curve)
    : context_(context),
      endpoint_(std::move(endpoint)),
      curve_(std::move(curve)),
      backoff_ms_(config::kReconnectInitialMs) {}

Status BrokerLink::Open(int64_t now_ms) {
  Close(0);
  auto s = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
  transport::ApplyCommonOptions(*s);
  curve::ApplyClient(*s, curve_);
  // Best effort: without a monitor a refusal is only silence.
  (void)monitor_.Attach(context_, *s, curve_, endpoint_);
  try {
    s->connect(endpoint_);
  } catch (const zmq::error_t& e) {
    return Status::Invalid("bad broker endpoint '" + endpoint_ + "': " + e.what());
  }
  socket_ = std::move(s);
  // A fresh socket gets a full silence period to hear from the broker.
  last_heard_ms_ = now_ms;
  return Status::Ok();
}

void BrokerLink::Close(int linger_ms) {
  if (socket_) monitor_.Stop();  // before the PAIR goes: see HandshakeMonitor::Stop
  monitor_.Detach();
  if (!socket_) return;
  socket_->set(zmq::sockopt::linger, linger_ms);
  socket_->close();
  socket_.reset();
}

bool BrokerLink::Send(const wire::Message& m) {
  return socket_ != nullptr && transport::Send(*socket_, m);
}

bool BrokerLink::Receive(wire::Message* m, int64_t now_ms) {
  while (socket_) {
    std::string unused;
    Status decoded;
    if (!transport::Receive(*socket_, false, &unused, m, &decoded)) return false;
    last_heard_ms_ = now_ms;
    // Only what a broker sends, with its fields as declared (wire_messages.def).
    if (decoded.ok()) decoded = wire::Validate(wire::Role::kWorker, m->command, m->body);
    if (decoded.ok()) return true;
    log::Warn("ignoring a bad message from the broker: " + decoded.message());
  }
  return false;
}

BrokerLink::Event BrokerLink::Tick(int64_t now_ms, int64_t silence_limit_ms) {
  if (socket_ && monitor_.Poll()) {
    // The broker refused the handshake: retrying at once would be refused
    // again; back off as after a silence.
    Close(0);
    reconnect_at_ms_ = now_ms + backoff_ms_;
    if (monitor_.refusal() != last_refusal_ || now_ms - last_refusal_ms_ >= kRefusalLogEveryMs) {
      last_refusal_ = monitor_.refusal();
      last_refusal_ms_ = now_ms;
      log::Printf(log::Level::kWarn, "%s; retrying (backoff up to %d ms)", last_refusal_.c_str(),
                  config::kReconnectMaxMs);
    }
    backoff_ms_ = std::min(backoff_ms_ * 2, config::kReconnectMaxMs);
    return Event::kLost;
  }
  if (socket_ && now_ms - last_heard_ms_ >= silence_limit_ms) {
    Close(0);
    reconnect_at_ms_ = now_ms + backoff_ms_;
    log::Printf(log::Level::kWarn, "no word from the broker at %s for %lld ms: reconnecting in %d ms",
                endpoint_.c_str(), static_cast<long long>(now_ms - last_heard_ms_), backoff_ms_);
    backoff_ms_ = std::min(backoff_ms_ * 2, config::kReconnectMaxMs);
    return Event::kLost;
  }
  if (!socket_ && now_ms >= reconnect_at_ms_) {
    if (!Open(now_ms).ok()) {  // cannot happen: the endpoint connected before
      reconnect_at_ms_ = now_ms + backoff_ms_;
      return Event::kNone;
    }
    return Event::kReopened;
  }
  return Event::kNone;
}

void BrokerLink::ResetBackoff() { backoff_ms_ = config::kReconnectInitialMs; }

int64_t BrokerLink::NextDeadline(int64_t silence_limit_ms) const {
  return socket_ ? last_heard_ms_ + silence_limit_ms : reconnect_at_ms_;
}

}  // namespace leaseq::worker
