#include "worker/worker_loop.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "common/transport.h"
#include "worker/signal_pipe.h"
#include "worker/worker_identity.h"

namespace leaseq::worker {

namespace {

// Longest poll (WorkerCore's kMaxStepGapMs): also bounds how late the
// processes are looked at without an fd telling (a finished command's pipe
// grace in ProcessRunner).
constexpr int64_t kMaxPollMs = kMaxStepGapMs;

}  // namespace

WorkerLoop::WorkerLoop(WorkerOptions options)
    : context_(1),
      link_(context_, options.broker, options.curve),
      core_(std::move(options), link_, processes_, HostName(), static_cast<int64_t>(getpid())) {}

WorkerLoop::~WorkerLoop() = default;

Status WorkerLoop::Run() {
  Status s = SignalPipe::Install({SIGTERM, SIGINT, SIGCHLD});
  if (!s.ok()) return s;
  int64_t now = clock_.SteadyMs();
  s = core_.Start(now);
  if (!s.ok()) return s;
  while (!core_.done()) {
    Poll(now);
    now = clock_.SteadyMs();
    for (int sig : SignalPipe::Drain()) core_.OnSignal(sig);
    core_.Step(now);
  }
  return core_.Finish();
}

void WorkerLoop::Poll(int64_t now) {
  std::vector<zmq::pollitem_t> items;
  if (link_.is_open()) items.push_back({link_.socket()->handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({nullptr, SignalPipe::read_fd(), ZMQ_POLLIN, 0});
  if (core_.pool_fd() >= 0) items.push_back({nullptr, core_.pool_fd(), ZMQ_POLLIN, 0});
  std::vector<ProcessFds> fds;
  core_.AppendProcessFds(&fds);
  for (const ProcessFds& f : fds) {
    if (f.stdin_fd >= 0) items.push_back({nullptr, f.stdin_fd, ZMQ_POLLOUT, 0});
    if (f.stdout_fd >= 0) items.push_back({nullptr, f.stdout_fd, ZMQ_POLLIN, 0});
    if (f.stderr_fd >= 0) items.push_back({nullptr, f.stderr_fd, ZMQ_POLLIN, 0});
  }
  const int64_t deadline = std::min(now + kMaxPollMs, core_.NextDeadlineMs(now));
  transport::Poll(items, std::chrono::milliseconds(std::max<int64_t>(0, deadline - now)));
}

}  // namespace leaseq::worker
