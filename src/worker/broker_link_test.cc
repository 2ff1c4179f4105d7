// BrokerLink against a real ZeroMQ socket that comes up late: the link's
// times are passed in, so the test decides what time it is; only the
// connection itself is waited for, with a deadline.
#include "worker/broker_link.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/transport.h"

namespace leaseq::worker {
namespace {

using namespace std::chrono_literals;

// An endpoint on 127.0.0.1 that nothing listens on: the kernel picks a
// port for a plain socket, which is closed at once (a ZeroMQ socket would
// release it only later, from its I/O thread).
std::string UnusedEndpoint() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "no port: " << std::strerror(errno);
  }
  close(fd);
  return "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

TEST(BrokerLinkTest, SilenceIsCountedFromTheConnectionNotFromTheOpening) {
  zmq::context_t context(1);
  const std::string endpoint = UnusedEndpoint();
  BrokerLink link(context, endpoint, curve::ClientSettings{});
  constexpr int64_t kLimit = 600;
  ASSERT_TRUE(link.Open(0).ok());
  // Opened at 0 with nobody listening: at 500 it still waits, until 600.
  EXPECT_EQ(link.Tick(500, kLimit), Link::Event::kNone);
  EXPECT_EQ(link.NextDeadline(kLimit), 600);

  // The broker comes up at 500: the connection is made, and what the
  // worker queued meanwhile reaches it only now.
  zmq::socket_t broker(context, zmq::socket_type::router);
  transport::ApplyCommonOptions(broker);
  broker.set(zmq::sockopt::linger, 0);
  broker.bind(endpoint);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (link.NextDeadline(kLimit) != 500 + kLimit && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(link.Tick(500, kLimit), Link::Event::kNone);
    std::this_thread::sleep_for(5ms);  // polling the monitor, under the deadline above
  }
  ASSERT_EQ(link.NextDeadline(kLimit), 500 + kLimit) << "the connection was never seen";

  // The broker's answer gets a full period from the connection.
  EXPECT_EQ(link.Tick(1000, kLimit), Link::Event::kNone);
  EXPECT_TRUE(link.is_open());
  EXPECT_EQ(link.Tick(500 + kLimit, kLimit), Link::Event::kLost);
  EXPECT_FALSE(link.is_open());
  link.Close(0);
}

}  // namespace
}  // namespace leaseq::worker
