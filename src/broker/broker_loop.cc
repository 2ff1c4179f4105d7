// BrokerLoop: the socket, the poll and the core's passes.
#include "broker/broker_loop.h"

#include <chrono>

#include "common/curve.h"
#include "common/log.h"
#include "common/transport.h"

namespace leaseq {

namespace {
// Without messages, a pass runs this often (reclaims, wakes, heartbeats).
constexpr int64_t kPassIntervalMs = 50;
// Polls without sleeping until something is ready or `window` passed.
bool SpinForMessages(zmq::pollitem_t* items, size_t n, std::chrono::microseconds window) {
  const auto until = std::chrono::steady_clock::now() + window;
  do {
    if (transport::Poll(items, n, std::chrono::milliseconds(0)) > 0) return true;
  } while (std::chrono::steady_clock::now() < until);
  return false;
}
}  // namespace

// The ROUTER socket as the core's port.
class BrokerLoop::ZmqPort final : public RouterPort {
 public:
  explicit ZmqPort(zmq::socket_t& socket) : socket_(socket) {}
  bool Receive(std::string* routing_id, wire::Message* m, Status* decoded) override {
    // A `results` body stays text for Broker::OnResults (plain_results.h).
    return transport::Receive(socket_, true, routing_id, m, decoded, /*results_as_text=*/true);
  }
  bool Send(const std::string& routing_id, const wire::Message& m) override {
    return transport::Send(socket_, m, routing_id);
  }

 private:
  zmq::socket_t& socket_;
};

BrokerLoop::BrokerLoop() : context_(1), socket_(context_, zmq::socket_type::router) {}

BrokerLoop::~BrokerLoop() = default;

Status BrokerLoop::Create(const BrokerOptions& options, const Clock* clock,
                          std::unique_ptr<BrokerLoop>* out) {
  std::unique_ptr<BrokerLoop> loop(new BrokerLoop());
  loop->port_ = std::make_unique<ZmqPort>(loop->socket_);
  // The store first: a database this broker cannot use is reported before
  // the address is taken.
  Status s = Broker::Create(options, clock, loop->port_.get(), &loop->core_);
  if (!s.ok()) return s;
  if (options.curve.enabled) {
    // The ZAP handler first: a CURVE socket without one admits everybody.
    s = curve::Authenticator::Start(loop->context_, options.curve.allow_dir, &loop->zap_);
    if (!s.ok()) return s;
    curve::ApplyServer(loop->socket_, options.curve);
  }
  transport::ApplyCommonOptions(loop->socket_);
  // A message to a peer that is gone fails instead of vanishing, so an
  // assignment that cannot be delivered is released at once.
  loop->socket_.set(zmq::sockopt::router_mandatory, 1);
  try {
    loop->socket_.bind(options.bind);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind " + options.bind + ": " + e.what());
  }
  *out = std::move(loop);
  return Status::Ok();
}

std::string BrokerLoop::endpoint() const { return socket_.get(zmq::sockopt::last_endpoint); }

Status BrokerLoop::Run(int stop_fd) {
  while (true) {
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, stop_fd, ZMQ_POLLIN, 0}};
    const bool busy = core_->Busy();
    const bool answered = !busy && core_->Answered();
    const bool spin = answered && spin_.ShouldSpin();
    bool ready = false;
    if (spin) {
      ready = SpinForMessages(items, 2, AnswerSpin::kWindow);
      spin_.Observe(ready);
    }
    if (!ready) {
      const auto blocked = std::chrono::steady_clock::now();
      const int n = transport::Poll(items, 2, std::chrono::milliseconds(busy ? 0 : kPassIntervalMs));
      if (answered && !spin) {
        // Not spinning: would a spin have caught this message?
        spin_.Observe(n > 0 && std::chrono::steady_clock::now() - blocked < AnswerSpin::kWindow);
      }
    }
    if (items[1].revents & ZMQ_POLLIN) break;
    core_->Pass();
    core_->StepBackup();  // between transactions: the copy takes its own read lock
  }
  core_->LogTotals();
  return Status::Ok();
}

}  // namespace leaseq
