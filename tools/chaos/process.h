// Child processes of the chaos runner: started with fork/exec, output to
// files, each tied to the runner's life (PR_SET_PDEATHSIG), signalled and
// reaped by pid. The runner only ever signals processes it started itself
// (or, for workers, a process whose parent is a nanny it started).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace leaseq::chaos {

int64_t WallMs();    // milliseconds since the Unix epoch (the broker's clock)
int64_t SteadyMs();  // monotonic, for the runner's own timers

class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  // Starts binary with args; stdout and stderr appended to the files ("" =
  // /dev/null). False (and a message) when the fork fails.
  bool Start(const std::string& binary, const std::vector<std::string>& args,
             const std::string& out_path, const std::string& err_path, std::string* error);
  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  bool Running();  // reaps without blocking
  bool WaitExit(int64_t timeout_ms);
  void Signal(int sig);
  // After exit: the exit status, or -1 when killed by a signal (term_signal).
  int exit_code() const { return exit_code_; }
  int term_signal() const { return term_signal_; }
  std::string Describe() const;  // "exit 0", "killed by SIGKILL"

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  int term_signal_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();
// The parent pid and the state letter (R, S, T, Z...) of a process from
// /proc/PID/stat; false when there is no such process.
bool ProcStat(pid_t pid, pid_t* ppid, char* state);

std::string ReadFile(const std::string& path);
std::vector<std::string> ReadLines(const std::string& path);

}  // namespace leaseq::chaos
