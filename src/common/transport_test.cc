#include "common/transport.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace leaseq::transport {
namespace {

void Ignore(int) {}

// A worker's loop gets a SIGCHLD at every end of a command, and a signal
// that lands in zmq_send makes it fail with EINTR. Send dropped the message
// then (a result waited 3 s for its re-send: /bin/true runs stalled at
// their end), or, after its first frames, left them to be joined to the
// next message. Here a thread signals the sending one without pause while
// it sends: every message must be queued, and arrive whole and in order.
TEST(TransportTest, ASignalLandingInASendDoesNotDropOrSplitTheMessage) {
  struct sigaction action {};
  action.sa_handler = Ignore;  // no SA_RESTART, as a self-pipe handler may be
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGUSR2, &action, &previous), 0);

  zmq::context_t context(1);
  zmq::socket_t router(context, zmq::socket_type::router);
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  ApplyCommonOptions(router);
  ApplyCommonOptions(dealer);
  router.bind("tcp://127.0.0.1:*");
  dealer.connect(router.get(zmq::sockopt::last_endpoint));

  const pthread_t sender = pthread_self();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> signals{0};
  std::thread storm([&] {
    while (!stop.load()) {
      pthread_kill(sender, SIGUSR2);
      signals.fetch_add(1);
    }
  });

  // Each message three frames and a blob: a split would show in the next one.
  constexpr int kMessages = 20000;
  int refused = 0;
  for (int i = 0; i < kMessages; ++i) {
    wire::Message m = wire::Make(wire::Command::kHeartbeat, {{"n", i}}, {"blob-" + std::to_string(i)});
    if (!Send(dealer, m)) ++refused;
  }
  int received = 0, bad = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (received + bad < kMessages - refused && std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    Poll(&item, 1, std::chrono::milliseconds(100));
    std::string peer;
    wire::Message m;
    Status decoded;
    while (Receive(router, true, &peer, &m, &decoded)) {
      if (decoded.ok() && m.body.value("n", -1) == received && m.blobs.size() == 1 &&
          m.blobs[0] == "blob-" + std::to_string(received)) {
        ++received;
      } else {
        ++bad;
      }
    }
  }
  stop.store(true);
  storm.join();
  sigaction(SIGUSR2, &previous, nullptr);

  EXPECT_GT(signals.load(), 1000);  // the storm did blow
  EXPECT_EQ(refused, 0);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(received, kMessages);
}

}  // namespace
}  // namespace leaseq::transport
