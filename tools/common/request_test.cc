// Request sorts a broker's answer by its command and its fields (`unavailable`,
// the declaration of the message), never by the wording of its message.
#include "tools/common/request.h"

#include <gtest/gtest.h>

#include <thread>
#include <zmq.hpp>

#include "common/transport.h"

namespace leaseq::tools {
namespace {

// Answers one request with `answer`, echoing the request's id.
class OneShotBroker {
 public:
  explicit OneShotBroker(wire::Message answer) : answer_(std::move(answer)) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (transport::Poll(&item, 1, std::chrono::milliseconds(5000)) <= 0) return;
      std::string peer;
      wire::Message request;
      Status decoded;
      if (!transport::Receive(socket_, true, &peer, &request, &decoded) || !decoded.ok()) return;
      answer_.body[wire::field::kId] = request.body[wire::field::kId];
      transport::Send(socket_, answer_, peer);
    });
  }
  ~OneShotBroker() { thread_.join(); }
  const std::string& endpoint() const { return endpoint_; }

 private:
  wire::Message answer_;
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::thread thread_;
};

CallResult Ask(wire::Message answer) {
  OneShotBroker broker(std::move(answer));
  Client client(broker.endpoint(), 3000, 1);
  return Request(client, wire::Command::kStatus);
}

TEST(Request, AReplyIsOk) {
  CallResult r = Ask(wire::Make(wire::Command::kReply, {{wire::field::kCounts, nlohmann::json::object()}}));
  EXPECT_EQ(r.outcome, CallOutcome::kOk) << r.message;
}

TEST(Request, UnavailableComesFromTheFieldNotTheWords) {
  CallResult r = Ask(wire::MakeUnavailable("disk full"));
  EXPECT_EQ(r.outcome, CallOutcome::kUnavailable);
  EXPECT_EQ(r.message, "disk full");
  r = Ask(wire::MakeError("unavailable: bad request"));
  EXPECT_EQ(r.outcome, CallOutcome::kRefused);
  EXPECT_EQ(r.message, "unavailable: bad request");
}

TEST(Request, AnAnswerNotAsDeclaredIsABadReply) {
  // An `error` without its required `message`, and a command a broker
  // never sends.
  CallResult r = Ask(wire::Make(wire::Command::kError, {{wire::field::kUnavailable, true}}));
  EXPECT_EQ(r.outcome, CallOutcome::kBadReply);
  EXPECT_NE(r.message.find("error: field 'message' is missing"), std::string::npos) << r.message;
  r = Ask(wire::Make(wire::Command::kRegister));
  EXPECT_EQ(r.outcome, CallOutcome::kBadReply);
  EXPECT_NE(r.message.find("command 'register'"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace leaseq::tools
