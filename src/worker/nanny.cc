#include "worker/nanny.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "common/client.h"
#include "common/clock.h"
#include "common/log.h"
#include "worker/child_setup.h"
#include "worker/memory.h"
#include "worker/signal_pipe.h"
#include "worker/worker_identity.h"
#include "worker/worker_main.h"

namespace leaseq::worker {

namespace {

constexpr int kRestartInitialMs = 100;
constexpr int kRestartMaxMs = 5000;
constexpr int64_t kHealthyLifeMs = 10000;  // a child that lived this long resets the backoff
constexpr int64_t kMemoryPollMs = 100;
constexpr double kMemoryKillFraction = 0.95;  // as Dask's nanny ("terminate" threshold)
// After the drain timeout the worker still waits ~2 s for acks and lingers
// on its goodbye: the nanny gives it this much more before SIGKILL.
constexpr int64_t kStopMarginMs = 5000;
constexpr int kLostTimeoutMs = 500;
constexpr int kLostTries = 2;

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return "was killed by signal " + std::to_string(WTERMSIG(status)) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "ended (status " + std::to_string(status) + ")";
}

// The path of our own binary. exec'ing it by name rather than through
// /proc/self/exe keeps the worker's process name "leaseq-worker" (for ps,
// pgrep); a binary deleted since start can only be reached via /proc.
std::string OwnExecutable() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  std::string path(buf, static_cast<size_t>(n));
  if (path.ends_with(" (deleted)")) return "/proc/self/exe";
  return path;
}

}  // namespace

Nanny::Nanny(NannyOptions options)
    : opt_(std::move(options)),
      id_(NewSessionId()),
      backoff_ms_(kRestartInitialMs) {}

void Nanny::Log(const std::string& line) const { log::Info("nanny: " + line); }

Status Nanny::Run() {
  Status s = SignalPipe::Install({SIGTERM, SIGINT, SIGCHLD});
  if (!s.ok()) return s;
  exe_path_ = OwnExecutable();
  SystemClock clock;
  int64_t next_memory_check = 0;
  for (;;) {
    int64_t now = clock.SteadyMs();
    if (child_ < 0 && !stopping_ && now >= restart_at_ms_) StartChild(now);

    int64_t deadline = now + 1000;
    if (child_ < 0) deadline = std::min(deadline, restart_at_ms_);
    if (opt_.memory_limit_bytes > 0) deadline = std::min(deadline, next_memory_check);
    if (stopping_) deadline = std::min(deadline, stop_deadline_ms_);
    pollfd pfd{SignalPipe::read_fd(), POLLIN, 0};
    poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, deadline - now)));
    now = clock.SteadyMs();

    for (int sig : SignalPipe::Drain()) {
      if (sig != SIGTERM && sig != SIGINT) continue;
      if (child_ < 0) {
        Log("stopping (no worker running)");
        return Status::Ok();
      }
      if (!stopping_) {
        Log("stopping: asking worker pid " + std::to_string(child_) + " to drain");
        stopping_ = true;
        stop_deadline_ms_ = now + opt_.drain_timeout_ms + kStopMarginMs;
      }
      kill(child_, SIGTERM);  // a second one tells the worker to cut its drain short
    }
    if (child_ > 0 && ReapChild(false, now) && stopping_) {
      Log("stopped");
      return Status::Ok();
    }
    if (refused_) {
      return Status::Conflict("the broker refused the worker's name '" + opt_.name +
                              "' (another live worker holds it): not restarting it");
    }
    if (stopping_ && child_ > 0 && now >= stop_deadline_ms_) {
      Log("worker pid " + std::to_string(child_) + " did not stop in time: killing it");
      KillTree();
      ReapChild(true, now);
      Log("stopped");
      return Status::Ok();
    }
    if (opt_.memory_limit_bytes > 0 && now >= next_memory_check) {
      next_memory_check = now + kMemoryPollMs;
      if (child_ > 0 && !stopping_) CheckMemory();
    }
  }
}

void Nanny::StartChild(int64_t now) {
  std::vector<std::string> args = opt_.worker_argv;
  // The child before this one (if any) was reaped: a session of ours tells
  // the broker that the name's holder, if it is one of ours, is dead.
  child_session_ = id_ + "." + std::to_string(++children_);
  args.insert(args.end(), {"--session", child_session_, "--nanny-id", id_});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    if (!PrepareChild(parent)) _exit(127);
    // Until the worker has its handlers (SignalPipe::Install unblocks), a
    // SIGTERM or SIGINT waits instead of killing it: a nanny stopped just
    // as it restarts its worker must see a drain, not a death.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, nullptr);
    execv(exe_path_.c_str(), argv.data());
    static const char kMsg[] = "leaseq-worker nanny: cannot exec the worker binary\n";
    [[maybe_unused]] ssize_t n = write(2, kMsg, sizeof kMsg - 1);
    _exit(127);
  }
  if (pid < 0) {
    Log(std::string("cannot fork the worker: ") + strerror(errno));
    restart_at_ms_ = now + backoff_ms_;
    backoff_ms_ = std::min(backoff_ms_ * 2, kRestartMaxMs);
    return;
  }
  setpgid(pid, pid);  // as the child does: no window where a kill misses it
  child_ = pid;
  child_started_ms_ = now;
  Log("started worker pid " + std::to_string(pid));
}

bool Nanny::ReapChild(bool block, int64_t now) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(child_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != child_) return false;
  const pid_t dead = child_;
  child_ = -1;
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  refused_ = WIFEXITED(status) && WEXITSTATUS(status) == kExitNameInUse;
  const int64_t lived = now - child_started_ms_;
  // A clean exit is a drain (preemption notice), not a crash loop: the
  // replacement starts after the shortest delay.
  if (clean || lived >= kHealthyLifeMs) backoff_ms_ = kRestartInitialMs;
  std::string line = "worker pid " + std::to_string(dead) + " " + Describe(status) + " after " +
                     std::to_string(lived) + " ms";
  if (refused_) {
    line += "; its name is in use";
  } else if (!stopping_) {
    restart_at_ms_ = now + backoff_ms_;
    line += "; restarting in " + std::to_string(backoff_ms_) + " ms";
    backoff_ms_ = std::min(backoff_ms_ * 2, kRestartMaxMs);
  }
  Log(line);
  if (!clean && !refused_) SendLost(dead, child_session_, kill_reason_);
  kill_reason_.clear();
  return true;
}

void Nanny::CheckMemory() {
  int64_t rss = 0;
  if (!ProcessTreeRss(child_, &rss).ok()) return;  // it just ended: ReapChild will see
  const double threshold = kMemoryKillFraction * static_cast<double>(opt_.memory_limit_bytes);
  if (static_cast<double>(rss) < threshold) return;
  Log("worker pid " + std::to_string(child_) + " and its tasks use " + FormatBytes(rss) +
      ", over 95% of the memory limit " + FormatBytes(opt_.memory_limit_bytes) +
      ": killing them");
  kill_reason_ = "its nanny killed the worker: " + FormatBytes(rss) + ", over 95% of the " +
                 FormatBytes(opt_.memory_limit_bytes) + " memory limit";
  KillTree();
}

void Nanny::KillTree() {
  const pid_t own_group = getpgrp();
  for (pid_t pid : ProcessTree(child_)) {
    // Tasks run in process groups of their own: kill each group, so that
    // processes forked since the scan die too. Never our own group.
    pid_t group = getpgid(pid);
    if (group > 0 && group != own_group) kill(-group, SIGKILL);
    kill(pid, SIGKILL);
  }
}

void Nanny::SendLost(pid_t pid, const std::string& session, const std::string& why) {
  Client client(opt_.broker, kLostTimeoutMs, kLostTries, opt_.curve);
  wire::Message reply;
  nlohmann::json body = {
      {wire::field::kName, opt_.name},
      {wire::field::kPid, static_cast<int64_t>(pid)},
      {wire::field::kSession, session}};
  if (!why.empty()) body[wire::field::kWhy] = why;
  Status s = client.Call(wire::Make(wire::Command::kLost, body), &reply);
  if (s.ok()) {
    Log("told the broker that worker pid " + std::to_string(pid) + " is lost");
  } else {
    Log("could not tell the broker that worker pid " + std::to_string(pid) +
        " is lost: " + s.message());
  }
}

}  // namespace leaseq::worker
