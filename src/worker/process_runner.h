// ProcessRunner: runs one task's command and collects what it prints; the
// real worker's TaskProcess (task_process.h), started by ProcessRunnerStarter.
//
// Contract:
//  - execvp of argv, no shell, started with clone(CLONE_VM | CLONE_VFORK)
//    as glibc's posix_spawn does (no copy of the worker's page tables), but
//    with a child of our own so that it can set PR_SET_PDEATHSIG, which
//    posix_spawn cannot. The worker is the command's direct parent (a
//    command running `kill -9 $PPID` kills the worker itself).
//  - The child gets its own process group (Kill() ends the whole tree) and
//    PR_SET_PDEATHSIG(SIGKILL), so it dies with the thread that started it
//    (in the worker: the worker). Signal mask and dispositions are reset;
//    the environment is the worker's plus ProcessSpec::env.
//  - stdin is fed from ProcessSpec::input without blocking, then closed
//    (empty input: stdin is /dev/null, and fds().stdin_fd is -1);
//    stdout is kept whole up to max_stdout_bytes (more: the command is
//    killed and the attempt fails); of stderr only the last stderr_tail_bytes.
//  - A command that cannot be started is a finished attempt with exit code
//    127 and an error saying why ("no such command: foo", "cannot execute
//    foo: Permission denied"), learnt from the errno of the child's exec
//    (which shares our memory until it execs); never a crash. When the cause lies in the command
//    itself (missing, not executable, not a program), the outcome is
//    permanent: running it again cannot help. A failure of the worker's
//    own resources (memory, fds) between clone and exec is not permanent.
//  - When the command exits, whatever is left of its process group is killed
//    (a task ends with its command; background children do not outlive it).
//
// The caller polls fds() (read ends for input, the stdin end for output),
// then calls Pump() and Reap() (Reap on SIGCHLD, or every loop pass: cheap).
// Once Finished(), TakeOutcome() gives the result.
//
// Not thread-safe: one thread owns a runner. Start() blocks every signal but
// SIGCHLD in the calling thread until the command has exec'ed (the child
// shares our memory until then); a SIGCHLD handler must be harmless if it
// runs in that child (SignalPipe's is). The process must ignore SIGPIPE
// (SignalPipe::Install does) so that a command that closes its stdin early
// gives EPIPE here instead of killing the caller.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "worker/task_process.h"

namespace leaseq::worker {

class ProcessRunner final : public TaskProcess {
 public:
  // Starts the command. A command that cannot be exec'ed still gives a
  // runner (already finished, with the error); only a failure of the
  // worker's own resources (pipes, clone) is an error Status.
  static Status Start(const ProcessSpec& spec, std::unique_ptr<ProcessRunner>* out);

  // Kills the process group if still running and reaps the child.
  ~ProcessRunner() override;
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  pid_t pid() const { return pid_; }
  ProcessFds fds() const override { return fds_; }

  // Moves bytes without blocking: feeds stdin, reads stdout and stderr.
  void Pump() override;

  // Collects the exit status if the child has ended (never blocks).
  void Reap() override;

  // SIGTERM to the process group (a time limit: the command may clean up).
  void Terminate() override;

  // SIGKILL to the process group. The outcome then reports the signal.
  void Kill() override;

  // The command has exited and its output is all read.
  bool Finished() const override;

  // The outcome; call once Finished().
  ProcessOutcome TakeOutcome() override;

 private:
  explicit ProcessRunner(const ProcessSpec& spec);
  void ReadInto(int* fd, bool is_stdout);
  void CloseFd(int* fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int wait_status_ = 0;
  int64_t reaped_at_ms_ = 0;
  ProcessFds fds_;
  std::string input_;
  size_t input_pos_ = 0;
  int64_t max_stdout_;
  size_t stderr_tail_;
  std::string stdout_;
  std::string stderr_;
  bool stdout_overflow_ = false;
  std::string start_error_;  // exec failure
  bool start_permanent_ = false;
};

// Starts ProcessRunners: the real worker's ProcessStarter.
class ProcessRunnerStarter final : public ProcessStarter {
 public:
  Status Start(const ProcessSpec& spec, std::unique_ptr<TaskProcess>* out) override;
};

// Why a command could not be started, from the errno of the child's exec
// (stage_exec) or of its set-up before exec: the error text and whether
// another attempt could succeed. Exposed for tests.
std::string StartErrorText(const std::string& program, int child_errno, bool stage_exec,
                           bool* permanent);

}  // namespace leaseq::worker
