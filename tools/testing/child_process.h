// ChildProcess: a program started by the integration-test harness or the
// chaos runner, by fork/exec, with its standard streams in files; signalled
// and reaped by its pid only (we never signal what we did not start).
// The child gets its own process group (a Ctrl-C reaches only the parent,
// which stops what it started in order) and dies with the thread that
// started it (PR_SET_PDEATHSIG), so a crashed test leaves nothing running.
// Killed (SIGKILL) and reaped when destroyed if it still runs.
// Not thread-safe: one owner thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace leaseq::test_support {

struct ChildOptions {
  std::string stdin_path;   // "" = /dev/null
  std::string stdout_path;  // "" = /dev/null
  std::string stderr_path;  // "" = /dev/null
  bool append = false;      // append to the output files instead of truncating
  std::map<std::string, std::string> env;  // set on top of ours
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // False (and *error) when the fork fails. An exec failure is exit 127.
  bool Start(const std::string& binary, const std::vector<std::string>& args,
             const ChildOptions& options, std::string* error);
  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  bool Running();  // reaps without blocking
  bool WaitExit(std::chrono::milliseconds timeout);
  void Signal(int sig);  // nothing once it has been reaped
  // After exit: the exit status, or -1 when killed by a signal (term_signal).
  int exit_code() const { return exit_code_; }
  int term_signal() const { return term_signal_; }
  std::string Describe() const;  // "running", "exit 0", "killed by SIGKILL"

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  int term_signal_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none).
int FreePort();
// The whole file; "" when it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace leaseq::test_support
