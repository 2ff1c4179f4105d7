// leaseq-bench-spawn: the machine's raw rate of starting a program and
// waiting for it, the physical limit of command tasks.
//
//   leaseq-bench-spawn --count N --parallel P [--method fork|posix_spawn|runner]
//                      [-- PROGRAM ARG...]        (default /bin/true)
//
// P threads share N runs; each thread starts the program (fork + execv, as
// leaseq-worker does, or posix_spawn, glibc's vfork-like clone), then waits
// for it with waitpid; or (runner) through leaseq-worker's own ProcessRunner,
// pipes and all, driven as the worker loop drives it: the cost of the
// worker's start path alone, without the broker and the network. For fork
// and posix_spawn, stdin/stdout of the program are /dev/null. Prints one
// JSON object: runs, seconds, rate per second.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "worker/process_runner.h"

extern char** environ;

namespace {

// One command through ProcessRunner, to its end; true when it exited 0.
bool RunOne(const std::vector<std::string>& cmd) {
  using leaseq::worker::ProcessRunner;
  leaseq::worker::ProcessSpec spec;
  spec.argv = cmd;
  std::unique_ptr<ProcessRunner> r;
  if (!ProcessRunner::Start(spec, &r).ok()) return false;
  while (!r->Finished()) {
    r->Pump();
    r->Reap();
    if (r->Finished()) break;
    const leaseq::worker::ProcessFds f = r->fds();
    if (f.stdin_fd < 0 && f.stdout_fd < 0 && f.stderr_fd < 0) {
      siginfo_t info{};  // output all read: wait for the exit itself
      waitid(P_PID, static_cast<id_t>(r->pid()), &info, WEXITED | WNOWAIT);
      continue;
    }
    pollfd p[3] = {{f.stdin_fd, POLLOUT, 0}, {f.stdout_fd, POLLIN, 0}, {f.stderr_fd, POLLIN, 0}};
    poll(p, 3, 100);
  }
  return r->TakeOutcome().ok();
}

}  // namespace

int main(int argc, char** argv) {
  int count = 10000, parallel = 2;
  std::string method = "fork";
  std::vector<std::string> cmd;
  CLI::App app{"leaseq-bench-spawn: raw spawn-and-wait rate"};
  app.add_option("--count", count)->check(CLI::PositiveNumber);
  app.add_option("--parallel", parallel)->check(CLI::PositiveNumber);
  app.add_option("--method", method)->check(CLI::IsMember({"fork", "posix_spawn", "runner"}));
  app.add_option("cmd", cmd, "program and arguments, after --");
  CLI11_PARSE(app, argc, argv);
  if (cmd.empty()) cmd = {"/bin/true"};

  std::vector<char*> args;
  for (auto& a : cmd) args.push_back(a.data());
  args.push_back(nullptr);
  signal(SIGPIPE, SIG_IGN);  // as the worker does (ProcessRunner's contract)
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return 1;

  std::atomic<int> next{0}, failures{0};
  auto body = [&] {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    while (next.fetch_add(1) < count) {
      pid_t pid = -1;
      if (method == "runner") {
        if (!RunOne(cmd)) failures.fetch_add(1);
        continue;
      }
      if (method == "fork") {
        pid = fork();
        if (pid == 0) {
          dup2(devnull, 0);
          dup2(devnull, 1);
          execv(args[0], args.data());
          _exit(127);
        }
      } else if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) {
        pid = -1;
      }
      int status = 0;
      if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0) {
        failures.fetch_add(1);
      }
    }
    posix_spawn_file_actions_destroy(&fa);
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < parallel; ++i) threads.emplace_back(body);
  for (auto& t : threads) t.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json out = {{"runs", count},     {"parallel", parallel}, {"method", method},
                        {"seconds", secs},   {"rate", count / secs},
                        {"failures", failures.load()}};
  std::printf("%s\n", out.dump().c_str());
  return failures.load() == 0 ? 0 : 1;
}
