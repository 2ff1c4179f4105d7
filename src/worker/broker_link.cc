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
      curve_(std::move(curve)) {}

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
  timers_.Heard(now_ms);
  handshakes_seen_ = 0;
  last_tick_ms_ = now_ms;
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
    timers_.Heard(now_ms);
    if (decoded.ok()) return true;
    log::Warn("ignoring a bad message from the broker: " + decoded.message());
  }
  return false;
}

BrokerLink::Event BrokerLink::Tick(int64_t now_ms, int64_t silence_limit_ms) {
  const int64_t previous_tick_ms = last_tick_ms_;
  last_tick_ms_ = now_ms;
  if (socket_ && monitor_.Poll()) {
    // The broker refused the handshake: retrying at once would be refused
    // again; back off as after a silence.
    Close(0);
    timers_.Lost(now_ms);
    if (monitor_.refusal() != last_refusal_ || now_ms - last_refusal_ms_ >= kRefusalLogEveryMs) {
      last_refusal_ = monitor_.refusal();
      last_refusal_ms_ = now_ms;
      log::Printf(log::Level::kWarn, "%s; retrying (backoff up to %d ms)", last_refusal_.c_str(),
                  config::kReconnectMaxMs);
    }
    return Event::kLost;
  }
  if (socket_ && monitor_.handshakes() != handshakes_seen_) {
    // A connection made: what we queued meanwhile reaches the broker only
    // now, so its answer gets a full silence period (ReconnectTimers).
    handshakes_seen_ = monitor_.handshakes();
    timers_.Connected(previous_tick_ms);
  }
  if (socket_ && monitor_.TakeReconnected()) return Event::kReconnected;
  if (socket_ && timers_.Silent(now_ms, silence_limit_ms)) {
    Close(0);
    const int wait = timers_.Lost(now_ms);
    log::Printf(log::Level::kWarn, "no word from the broker at %s for %lld ms: reconnecting in %d ms",
                endpoint_.c_str(), static_cast<long long>(now_ms - timers_.last_heard_ms()), wait);
    return Event::kLost;
  }
  if (!socket_ && timers_.ReopenDue(now_ms)) {
    if (!Open(now_ms).ok()) {  // cannot happen: the endpoint connected before
      timers_.RetryLater(now_ms);
      return Event::kNone;
    }
    return Event::kReopened;
  }
  return Event::kNone;
}

void BrokerLink::ResetBackoff() { timers_.ResetBackoff(); }

int64_t BrokerLink::NextDeadline(int64_t silence_limit_ms) const {
  return timers_.NextDeadline(socket_ != nullptr, silence_limit_ms);
}

}  // namespace leaseq::worker
