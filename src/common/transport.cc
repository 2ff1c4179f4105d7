#include "common/transport.h"

#include <cerrno>
#include <vector>

#include "common/config.h"

namespace leaseq::transport {

void ApplyCommonOptions(zmq::socket_t& s) {
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(config::kMaxMessageBytes));
  s.set(zmq::sockopt::linger, 200);
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
}

namespace {

// One frame without blocking. A signal that lands in the call (SIGCHLD, at
// every end of a worker's command) makes ZeroMQ fail it with EINTR before
// the frame is queued: it is sent again. Left as a failure, it dropped the
// message (a result then waited for its re-send, heartbeat x liveness
// later) or, after the first frames of a message, left them to be joined
// to the next one.
bool SendFrame(zmq::socket_t& s, zmq::const_buffer frame, zmq::send_flags flags) {
  for (;;) {
    try {
      return s.send(frame, flags).has_value();
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return false;  // EHOSTUNREACH (ROUTER_MANDATORY), a closing context
    }
  }
}

}  // namespace

bool Send(zmq::socket_t& s, const wire::Message& m, const std::optional<std::string>& routing_id) {
  // The blobs go from the message (ZeroMQ copies each once): a submission of
  // a million tasks is not copied into a frame first.
  const std::vector<std::string> head = wire::EncodeHead(m);
  const size_t n = head.size() + m.blobs.size();
  if (routing_id &&
      !SendFrame(s, zmq::buffer(*routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    return false;
  }
  for (size_t i = 0; i < n; ++i) {
    auto flags = zmq::send_flags::dontwait;
    if (i + 1 < n) flags = flags | zmq::send_flags::sndmore;
    const std::string& frame = i < head.size() ? head[i] : m.blobs[i - head.size()];
    // Only the first part can meet a full queue: ZeroMQ takes the rest of
    // a message once it took its first part.
    if (!SendFrame(s, zmq::buffer(frame), flags)) return false;
  }
  return true;
}

bool Receive(zmq::socket_t& s, bool expect_routing_id, std::string* routing_id,
             wire::Message* out, Status* status, bool results_as_text) {
  std::vector<std::string> frames;
  zmq::message_t part;
  do {
    zmq::recv_result_t got;
    try {
      got = s.recv(part, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      // A signal (SIGCHLD, SIGTERM) landed in the call: nothing received
      // yet, or retry the rest of a message whose first part is here.
      if (e.num() != EINTR) throw;
      if (frames.empty()) return false;
      continue;
    }
    if (!got) {
      if (frames.empty()) return false;
      break;  // cannot happen: parts of a message arrive together
    }
    frames.emplace_back(static_cast<const char*>(part.data()), part.size());
    // Not held twice: a large blob's ZeroMQ message goes as soon as copied.
    const bool more = part.more();
    part.rebuild();
    if (!more) break;
  } while (true);

  if (expect_routing_id) {
    *routing_id = frames.front();
    frames.erase(frames.begin());
  }
  *status = results_as_text ? wire::DecodeResultsAsText(std::move(frames), out)
                            : wire::Decode(std::move(frames), out);
  return true;
}

int Poll(zmq::pollitem_t* items, size_t n, std::chrono::milliseconds timeout) {
  try {
    return zmq::poll(items, n, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    for (size_t i = 0; i < n; ++i) items[i].revents = 0;
    return 0;
  }
}

}  // namespace leaseq::transport
