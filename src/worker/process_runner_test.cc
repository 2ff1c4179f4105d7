#include "worker/process_runner.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "worker/signal_pipe.h"

namespace leaseq::worker {
namespace {

using Clock = std::chrono::steady_clock;

// Drives a runner the way the worker loop does, until it finishes or the
// deadline passes.
bool RunToEnd(ProcessRunner& r, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    r.Reap();
    r.Pump();
    if (r.Finished()) return true;
    ProcessFds f = r.fds();
    pollfd p[3] = {{f.stdin_fd, POLLOUT, 0}, {f.stdout_fd, POLLIN, 0}, {f.stderr_fd, POLLIN, 0}};
    poll(p, 3, 20);  // fds of -1 are ignored; the timeout covers the exit
  }
  return false;
}

ProcessOutcome RunSpec(ProcessSpec spec) {
  std::unique_ptr<ProcessRunner> r;
  Status s = ProcessRunner::Start(spec, &r);
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return {};
  EXPECT_TRUE(RunToEnd(*r));
  return r->TakeOutcome();
}

ProcessSpec Sh(const std::string& script, std::string input = "") {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", script};
  spec.input = std::move(input);
  return spec;
}

class ProcessRunnerTest : public testing::Test {
 protected:
  // The worker ignores SIGPIPE; so must a test that feeds stdin.
  void SetUp() override { ASSERT_TRUE(SignalPipe::Install({SIGCHLD}).ok()); }
};

TEST_F(ProcessRunnerTest, CapturesStdoutOfASuccess) {
  ProcessOutcome o = RunSpec(Sh("printf 'a\\0b'; echo noise >&2"));
  EXPECT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.output, std::string("a\0b", 3));
  EXPECT_EQ(o.error, "");  // stderr is reported only for a failure
}

TEST_F(ProcessRunnerTest, BigStdinRoundTrips) {
  std::string input(3 << 20, 'x');
  for (size_t i = 0; i < input.size(); i += 997) input[i] = static_cast<char>('a' + i % 26);
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.input = input;
  ProcessOutcome o = RunSpec(spec);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_TRUE(o.output == input) << "got " << o.output.size() << " bytes";
}

TEST_F(ProcessRunnerTest, CommandThatIgnoresItsStdinStillFinishes) {
  ProcessOutcome o = RunSpec(Sh("exec 0<&-; echo done", std::string(1 << 20, 'y')));
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.output, "done\n");
}

TEST_F(ProcessRunnerTest, ExitCodeAndStderrTail) {
  ProcessSpec spec = Sh("i=0; while [ $i -lt 500 ]; do echo line$i >&2; i=$((i+1)); done; exit 3");
  spec.stderr_tail_bytes = 64;
  ProcessOutcome o = RunSpec(spec);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.signal, 0);
  EXPECT_FALSE(o.ok());
  EXPECT_LE(o.error.size(), 64u);
  EXPECT_NE(o.error.find("line499\n"), std::string::npos) << o.error;
  EXPECT_EQ(o.error.find("line0\n"), std::string::npos);
}

TEST_F(ProcessRunnerTest, DeathBySignal) {
  ProcessOutcome o = RunSpec(Sh("kill -TERM $$"));
  EXPECT_EQ(o.exit_code, -1);
  EXPECT_EQ(o.signal, SIGTERM);
  EXPECT_FALSE(o.ok());
}

TEST_F(ProcessRunnerTest, ExecFailureIsAPermanentFailedAttempt) {
  ProcessSpec spec;
  spec.argv = {"leaseq-no-such-command-xyz", "arg"};
  ProcessOutcome o = RunSpec(spec);
  EXPECT_EQ(o.exit_code, 127);
  EXPECT_EQ(o.error, "no such command: leaseq-no-such-command-xyz");
  EXPECT_TRUE(o.permanent);
  EXPECT_FALSE(o.ok());
  spec.argv = {"/no/such/dir/tool"};
  o = RunSpec(spec);
  EXPECT_EQ(o.error, "no such command: /no/such/dir/tool");
  EXPECT_TRUE(o.permanent);
  spec.argv = {"/etc/passwd"};  // not executable (even for root: no x bit)
  o = RunSpec(spec);
  EXPECT_EQ(o.error, "cannot execute /etc/passwd: Permission denied");
  EXPECT_TRUE(o.permanent);
  spec.argv = {"/tmp"};
  o = RunSpec(spec);
  EXPECT_TRUE(o.permanent) << o.error;
}

TEST_F(ProcessRunnerTest, ACommandThatStartsAndFailsIsNotPermanent) {
  ProcessOutcome o = RunSpec(Sh("exit 127"));  // a shell's "not found" is the command's
  EXPECT_EQ(o.exit_code, 127);
  EXPECT_FALSE(o.permanent);
}

TEST(StartErrorText, OnlyCausesInTheCommandArePermanent) {
  bool permanent = true;
  EXPECT_EQ(StartErrorText("foo", ENOENT, true, &permanent), "no such command: foo");
  EXPECT_TRUE(permanent);
  EXPECT_EQ(StartErrorText("foo", EACCES, true, &permanent),
            "cannot execute foo: Permission denied");
  EXPECT_TRUE(permanent);
  StartErrorText("foo", ETXTBSY, true, &permanent);  // being written: try again later
  EXPECT_FALSE(permanent);
  StartErrorText("foo", ENOMEM, true, &permanent);
  EXPECT_FALSE(permanent);
  EXPECT_NE(StartErrorText("foo", EMFILE, false, &permanent).find("cannot start 'foo'"),
            std::string::npos);
  EXPECT_FALSE(permanent);
  StartErrorText("foo", ENOENT, false, &permanent);  // the set-up, not the command
  EXPECT_FALSE(permanent);
}

TEST_F(ProcessRunnerTest, TerminateStopsTheWholeProcessGroup) {
  // The shell and its background child share the group: SIGTERM reaches
  // both, and whatever would be left is killed once the shell is reaped.
  std::unique_ptr<ProcessRunner> r;
  ASSERT_TRUE(ProcessRunner::Start(Sh("sleep 30 & wait"), &r).ok());
  r->Terminate();
  ASSERT_TRUE(RunToEnd(*r, std::chrono::seconds(5)));
  ProcessOutcome o = r->TakeOutcome();
  EXPECT_EQ(o.signal, SIGTERM);
  // The shell's child was killed when the shell was reaped; it is gone once
  // its new parent (init) has reaped it too: wait for that, with a deadline.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!(kill(-r->pid(), 0) != 0 && errno == ESRCH) && Clock::now() < deadline) {
    poll(nullptr, 0, 10);
  }
  EXPECT_NE(kill(-r->pid(), 0), 0) << "the process group is still there";
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(ProcessRunnerTest, EnvironmentAddsTaskVariables) {
  setenv("LEASEQ_ATTEMPT", "stale", 1);  // replaced, not duplicated
  ProcessSpec spec = Sh("echo \"$LEASEQ_TASK_KEY/$LEASEQ_ATTEMPT/${HOME:+home}\"");
  spec.env = {{"LEASEQ_TASK_KEY", "k-1"}, {"LEASEQ_ATTEMPT", "2"}};
  ProcessOutcome o = RunSpec(spec);
  unsetenv("LEASEQ_ATTEMPT");
  EXPECT_EQ(o.output, getenv("HOME") ? "k-1/2/home\n" : "k-1/2/\n");
}

TEST_F(ProcessRunnerTest, SignalStateIsReset) {
  // The parent ignores SIGPIPE and may block signals; the command must get
  // default dispositions and an empty mask back.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  ProcessSpec spec;
  spec.argv = {"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"};  // no shell in between
  ProcessOutcome o = RunSpec(spec);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Signals 32 and 33 belong to glibc (its sigaction refuses them) and may be
  // ignored by whoever started the tests: look at the standard signals 1..31.
  unsigned long long blocked = 0, ignored = 0;
  ASSERT_EQ(sscanf(o.output.c_str(), "SigBlk:\t%llx\nSigIgn:\t%llx", &blocked, &ignored), 2) << o.output;
  EXPECT_EQ(blocked & 0x7fffffffULL, 0u) << o.output;
  EXPECT_EQ(ignored & 0x7fffffffULL, 0u) << o.output;
}

TEST_F(ProcessRunnerTest, OwnProcessGroupAndKillTakesTheTree) {
  std::unique_ptr<ProcessRunner> r;
  // The child shell starts a grandchild, prints its pid, and waits.
  ASSERT_TRUE(ProcessRunner::Start(Sh("sleep 60 & echo $!; wait"), &r).ok());
  EXPECT_EQ(getpgid(r->pid()), r->pid());
  // Find the shell's child (the sleep) through /proc.
  pid_t grandchild = 0;
  const std::string children = "/proc/" + std::to_string(r->pid()) + "/task/" +
                               std::to_string(r->pid()) + "/children";
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (grandchild == 0 && Clock::now() < deadline) {
    r->Pump();
    if (FILE* f = fopen(children.c_str(), "r")) {
      int pid = 0;
      if (fscanf(f, "%d", &pid) == 1) grandchild = pid;
      fclose(f);
    }
    if (grandchild == 0) poll(nullptr, 0, 10);
  }
  ASSERT_GT(grandchild, 0);
  EXPECT_EQ(getpgid(grandchild), r->pid());
  r->Kill();
  ASSERT_TRUE(RunToEnd(*r));
  ProcessOutcome o = r->TakeOutcome();
  EXPECT_EQ(o.signal, SIGKILL);
  // The grandchild was in the group: it is gone (or a zombie of init's).
  const auto gone_by = Clock::now() + std::chrono::seconds(10);
  bool gone = false;
  while (!gone && Clock::now() < gone_by) {
    gone = kill(grandchild, 0) != 0 || getpgid(grandchild) != r->pid();
    FILE* f = fopen(("/proc/" + std::to_string(grandchild) + "/stat").c_str(), "r");
    if (f != nullptr) {
      char state = 0;
      if (fscanf(f, "%*d %*s %c", &state) == 1 && state == 'Z') gone = true;
      fclose(f);
    }
    if (!gone) poll(nullptr, 0, 10);
  }
  EXPECT_TRUE(gone);
}

TEST_F(ProcessRunnerTest, BackgroundChildDoesNotHoldTheResult) {
  // The command exits while a background child keeps stdout open: the
  // runner kills the rest of the group, so the attempt ends promptly.
  const auto start = Clock::now();
  ProcessOutcome o = RunSpec(Sh("sleep 30 & echo started"));
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.output, "started\n");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ProcessRunnerTest, TooMuchStdoutFailsTheAttempt) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "head -c 200000 /dev/zero; sleep 30"};
  spec.max_stdout_bytes = 100000;
  ProcessOutcome o = RunSpec(spec);
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.output, "");
  EXPECT_NE(o.error.find("result too large"), std::string::npos) << o.error;
}

TEST_F(ProcessRunnerTest, DestructorKillsARunningCommand) {
  pid_t pid;
  {
    std::unique_ptr<ProcessRunner> r;
    ASSERT_TRUE(ProcessRunner::Start(Sh("sleep 60"), &r).ok());
    pid = r->pid();
  }
  EXPECT_NE(kill(pid, 0), 0);  // reaped: the pid no longer exists
}

TEST_F(ProcessRunnerTest, EmptyInputIsDevNullAndNoFdLeaks) {
  // An fd opened without close-on-exec (as a careless library might) must
  // not reach the command either: it sees 0, 1, 2 and the directory ls opens.
  const int stray = open("/dev/null", O_RDONLY);
  ASSERT_GE(stray, 3);
  ProcessSpec spec;
  spec.argv = {"ls", "/proc/self/fd"};
  std::unique_ptr<ProcessRunner> r;
  ASSERT_TRUE(ProcessRunner::Start(spec, &r).ok());
  EXPECT_EQ(r->fds().stdin_fd, -1);  // nothing to feed: no pipe
  ASSERT_TRUE(RunToEnd(*r));
  ProcessOutcome o = r->TakeOutcome();
  close(stray);
  EXPECT_EQ(o.output, "0\n1\n2\n3\n");
  EXPECT_EQ(RunSpec(Sh("readlink /proc/self/fd/0")).output, "/dev/null\n");
  EXPECT_EQ(RunSpec(Sh("cat", "")).exit_code, 0);  // EOF at once
}

TEST_F(ProcessRunnerTest, CommandDiesWithTheWorker) {
  // A stand-in worker starts a command, reports its pid, then is SIGKILLed:
  // the command must not outlive it (its task runs again elsewhere).
  int report[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  const pid_t worker = fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    std::unique_ptr<ProcessRunner> r;
    if (!ProcessRunner::Start(Sh("sleep 60"), &r).ok()) _exit(1);
    const pid_t pid = r->pid();
    if (write(report[1], &pid, sizeof pid) != sizeof pid) _exit(1);
    for (;;) pause();
  }
  close(report[1]);
  pid_t command = 0;
  ASSERT_EQ(read(report[0], &command, sizeof command), static_cast<ssize_t>(sizeof command));
  close(report[0]);
  ASSERT_EQ(kill(command, 0), 0);
  kill(worker, SIGKILL);
  ASSERT_EQ(waitpid(worker, nullptr, 0), worker);
  // Gone, or a zombie waiting for whoever adopted it.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  bool gone = false;
  while (!gone && Clock::now() < deadline) {
    gone = kill(command, 0) != 0;
    if (FILE* f = fopen(("/proc/" + std::to_string(command) + "/stat").c_str(), "r")) {
      char state = 0;
      if (fscanf(f, "%*d %*s %c", &state) == 1 && state == 'Z') gone = true;
      fclose(f);
    }
    if (!gone) poll(nullptr, 0, 10);
  }
  EXPECT_TRUE(gone);
}

TEST_F(ProcessRunnerTest, ManyCommandsInARow) {
  // The child's stack is reused from one start to the next; a long argv
  // needs a larger one.
  for (int i = 0; i < 200; ++i) {
    ProcessSpec spec;
    spec.argv = {"true"};
    ASSERT_TRUE(RunSpec(spec).ok()) << i;
  }
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo $#", "sh"};
  for (int i = 0; i < 20000; ++i) spec.argv.push_back("x");
  EXPECT_EQ(RunSpec(spec).output, "20000\n");
}

}  // namespace
}  // namespace leaseq::worker
