// sd::Notify: the datagram arrives on a socket the test binds itself, by
// path and in the abstract namespace, as systemd's manager would receive it.
#include "common/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "tools/testing/temp_dir.h"

namespace leaseq::sd {
namespace {

// A bound SOCK_DGRAM AF_UNIX socket: '@name' abstract, else a path.
class Receiver {
 public:
  explicit Receiver(const std::string& name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~Receiver() { close(fd_); }
  bool bound() const { return bound_; }
  // One datagram within 2 s, or "" (nothing came).
  std::string Receive() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) return "";
    char buf[256];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

std::string UniqueName(const char* prefix) {
  return std::string(prefix) + "leaseq-sd-test-" + std::to_string(getpid());
}

TEST(SdNotify, PathSocketReceivesReady) {
  test_support::TempDir dir("leaseq-sd");
  const std::string path = dir.File("notify");
  {
    Receiver r(path);
    ASSERT_TRUE(r.bound());
    ASSERT_TRUE(NotifySocket(path, "READY=1").ok());
    EXPECT_EQ(r.Receive(), "READY=1");
  }
}

TEST(SdNotify, AbstractSocketReceivesReady) {
  const std::string name = UniqueName("@");
  Receiver r(name);
  ASSERT_TRUE(r.bound());
  ASSERT_TRUE(NotifySocket(name, "READY=1\nSTATUS=accepting work").ok());
  EXPECT_EQ(r.Receive(), "READY=1\nSTATUS=accepting work");
}

TEST(SdNotify, EnvironmentNamesTheSocket) {
  const std::string name = UniqueName("@env-");
  Receiver r(name);
  ASSERT_TRUE(r.bound());
  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  const Status s = Notify("READY=1");
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.Receive(), "READY=1");
}

TEST(SdNotify, WithoutSystemdNothingIsSent) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(Notify("READY=1").ok());
}

TEST(SdNotify, BadNamesAreRefused) {
  EXPECT_FALSE(NotifySocket("relative/path", "READY=1").ok());
  EXPECT_FALSE(NotifySocket(std::string(200, '/'), "READY=1").ok());
  // Nobody listens there: an error, not a hang.
  EXPECT_FALSE(NotifySocket(UniqueName("@nobody-"), "READY=1").ok());
}

}  // namespace
}  // namespace leaseq::sd
