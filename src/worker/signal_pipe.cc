#include "worker/signal_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

namespace leaseq::worker {

namespace {

// Atomic (lock-free, so async-signal-safe): a handler may run on any thread.
std::atomic<int> g_read_fd{-1};
std::atomic<int> g_write_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free);

void OnSignal(int sig) {
  const int saved = errno;  // a handler must not disturb errno
  const unsigned char byte = static_cast<unsigned char>(sig);
  // A full pipe drops the byte: the loop is already behind on signals and
  // will wake up anyway; every signal we handle is idempotent per wake-up.
  [[maybe_unused]] ssize_t n = write(g_write_fd.load(), &byte, 1);
  errno = saved;
}

}  // namespace

Status SignalPipe::Install(std::initializer_list<int> signals) {
  if (g_read_fd < 0) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      return Status::IoError(std::string("cannot create the signal pipe: ") + strerror(errno));
    }
    g_read_fd = fds[0];
    g_write_fd = fds[1];
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  // SA_RESTART keeps plain read()/write() calls from failing with EINTR;
  // poll() still returns EINTR, which the loops treat as a wake-up.
  sa.sa_flags = SA_RESTART;
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : signals) {
    if (sigaction(sig, &sa, nullptr) != 0) {
      return Status::IoError("cannot handle signal " + std::to_string(sig) + ": " +
                             strerror(errno));
    }
    sigaddset(&handled, sig);
  }
  // A nanny starts its worker with SIGTERM and SIGINT blocked (the mask
  // survives exec), so that a stop sent while the worker is still loading
  // waits here, as a pending signal, instead of killing it by the default
  // action. Now that the handler is in place, let it in.
  sigprocmask(SIG_UNBLOCK, &handled, nullptr);
  return Status::Ok();
}

int SignalPipe::read_fd() { return g_read_fd; }

std::vector<int> SignalPipe::Drain() {
  std::vector<int> out;
  if (g_read_fd < 0) return out;
  unsigned char buf[64];
  for (;;) {
    ssize_t n = read(g_read_fd, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: nothing more
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

}  // namespace leaseq::worker
