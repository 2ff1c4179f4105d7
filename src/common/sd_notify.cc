// sd_notify's datagram protocol, as systemd documents it: a SOCK_DGRAM
// AF_UNIX socket, sendto() the path in $NOTIFY_SOCKET ('@' = abstract
// namespace: the '@' becomes a NUL byte and the address length excludes any
// trailing NUL).
#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace leaseq::sd {

Status NotifySocket(const std::string& name, std::string_view state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() < 2 || (name[0] != '/' && name[0] != '@')) {
    return Status::Invalid("NOTIFY_SOCKET must be an absolute path or start with '@': " + name);
  }
  if (name.size() >= sizeof(addr.sun_path)) {
    return Status::Invalid("NOTIFY_SOCKET is too long: " + name);
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  if (name[0] == '@') {
    addr.sun_path[0] = '\0';
  } else {
    len += 1;  // a path's terminating NUL, as sd_notify passes it
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(std::string("sd_notify: socket: ") + std::strerror(errno));
  ssize_t n;
  do {
    n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
               len);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (n < 0) return Status::IoError("sd_notify to " + name + ": " + std::strerror(err));
  return Status::Ok();
}

Status Notify(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || *name == '\0') return Status::Ok();
  return NotifySocket(name, state);
}

}  // namespace leaseq::sd
