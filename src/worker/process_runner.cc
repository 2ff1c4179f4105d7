#include "worker/process_runner.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <pthread.h>

#include "worker/child_setup.h"

extern char** environ;

namespace leaseq::worker {

namespace {

// After the command exits, its output pipes normally reach EOF at once (we
// kill what is left of its process group). A descendant that escaped the
// group (setsid) may still hold them: stop waiting for EOF after this long.
constexpr int64_t kPipeGraceMs = 500;
// At most this much is read from one pipe per Pump(), so that a command
// that never stops printing cannot starve the rest of the loop.
constexpr size_t kMaxReadPerPump = 4 << 20;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void CloseQuietly(int fd) {
  if (fd >= 0) close(fd);
}

// The environment of the command: ours, with spec.env added or replaced.
// Pointers into environ for the entries kept (no copies: the worker does not
// change its environment while it runs tasks), into *added for the others.
std::vector<char*> BuildEnv(const ProcessSpec& spec, std::vector<std::string>* added) {
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* entry = *e;
    bool replaced = false;
    for (const auto& [name, value] : spec.env) {
      if (std::strncmp(entry, name.c_str(), name.size()) == 0 && entry[name.size()] == '=') {
        replaced = true;
      }
    }
    if (!replaced) env.push_back(*e);
  }
  added->reserve(spec.env.size());
  for (const auto& [name, value] : spec.env) added->push_back(name + "=" + value);
  for (auto& a : *added) env.push_back(a.data());
  env.push_back(nullptr);
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// What the parent hands the child, and what the child hands back when it
// cannot exec. The child shares our memory (CLONE_VM) and we are suspended
// until it has exec'ed or exited (CLONE_VFORK), so plain fields suffice: no
// errno pipe, no read() after the clone.
struct ChildArgs {
  pid_t parent;
  int fd_in, fd_out, fd_err;  // become the child's 0, 1, 2
  char** argv;
  char** envp;
  int failed = 0;      // set by the child when it cannot exec
  int stage_exec = 0;  // 1: execvpe itself failed; 0: the set-up before it
  int error = 0;
};

// The child of clone(CLONE_VM | CLONE_VFORK): it runs on its own stack in
// our address space, with our thread's TLS, while our thread waits. So only
// async-signal-safe calls that write nothing but errno (see child_setup.h);
// every signal is blocked on entry (the parent blocked them all before the
// clone) until PrepareChild has reset the dispositions, so none of the
// worker's handlers can run here.
int RunChild(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  if (!PrepareChild(a->parent)) _exit(127);  // nobody is left to tell
  auto fail = [a](int stage_exec) {
    a->error = errno;
    a->stage_exec = stage_exec;
    a->failed = 1;
    _exit(127);
  };
  // Move the pipe ends above 2 first, so that dup2 onto 0..2 cannot clobber
  // one of them (possible when the worker was started with 0..2 closed).
  auto lift = [](int fd) { return fd > 2 ? fd : fcntl(fd, F_DUPFD, 10); };
  int fd_in = lift(a->fd_in), fd_out = lift(a->fd_out), fd_err = lift(a->fd_err);
  if (fd_in < 0 || fd_out < 0 || fd_err < 0 || dup2(fd_in, 0) < 0 || dup2(fd_out, 1) < 0 ||
      dup2(fd_err, 2) < 0) {
    fail(0);
  }
  // Every other fd (sockets, other tasks' pipes) must not leak into the
  // command: a leaked pipe end would keep another task's output open. (They
  // are close-on-exec already; this also covers an fd some library opened
  // without the flag.)
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execvpe(a->argv[0], a->argv, a->envp);
  fail(1);
  return 127;
}

// The child's stack: one mapping per thread, reused (CLONE_VFORK: at most
// one child of this thread runs on it at a time, and only until its exec),
// with a guard page below it so that an overflow faults instead of writing
// over the heap. execvpe puts the PATH candidate and, for a script without
// #!, a copy of argv on the stack: the size follows argv.
class ChildStack {
 public:
  ~ChildStack() {
    if (base_ != nullptr) munmap(base_, size_ + kGuard);
  }
  // The top of a stack of at least `need` bytes, or nullptr (errno set).
  char* Top(size_t need) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    need = (need + page - 1) / page * page;
    if (need > size_) {
      if (base_ != nullptr) munmap(base_, size_ + kGuard);
      base_ = nullptr;
      size_ = 0;
      void* m = mmap(nullptr, need + kGuard, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
      if (m == MAP_FAILED) return nullptr;
      base_ = static_cast<char*>(m);
      size_ = need;
      mprotect(base_, kGuard, PROT_NONE);
    }
    return base_ + kGuard + size_;
  }

 private:
  static constexpr size_t kGuard = 1 << 16;  // a multiple of any page size
  char* base_ = nullptr;
  size_t size_ = 0;
};

// stdin of a command that gets no input: /dev/null, opened once (one pipe
// fewer per task; reading it gives EOF at once, as a closed pipe would).
int DevNull() {
  static const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd;
}

}  // namespace

std::string StartErrorText(const std::string& program, int child_errno, bool stage_exec,
                           bool* permanent) {
  *permanent = false;
  if (!stage_exec) {
    return "cannot start '" + program + "': setting up its stdin/stdout/stderr failed: " +
           strerror(child_errno);
  }
  switch (child_errno) {
    case ENOENT:
    case ENOTDIR:
      // Not in PATH, or no such file at that path: it will not appear by
      // itself. (A task needing a tool only some workers have belongs in
      // a queue of its own.)
      *permanent = true;
      return "no such command: " + program;
    case EACCES:
    case EPERM:
    case ENOEXEC:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case E2BIG:
    case ELIBBAD:
      *permanent = true;
      return "cannot execute " + program + ": " + strerror(child_errno);
    default:
      // ENOMEM, EAGAIN, ETXTBSY (being written), EMFILE, EIO...: the
      // worker's or the machine's trouble of the moment; retries apply.
      return "cannot execute " + program + ": " + strerror(child_errno);
  }
}

ProcessRunner::ProcessRunner(const ProcessSpec& spec)
    : input_(spec.input),
      max_stdout_(spec.max_stdout_bytes),
      stderr_tail_(spec.stderr_tail_bytes) {}

Status ProcessRunner::Start(const ProcessSpec& spec, std::unique_ptr<ProcessRunner>* out) {
  if (spec.argv.empty()) return Status::Invalid("empty command");
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> added_env;
  std::vector<char*> argv = Pointers(args);
  std::vector<char*> envp = BuildEnv(spec, &added_env);

  const bool feed_stdin = !spec.input.empty();
  const int devnull = feed_stdin ? -1 : DevNull();
  if (!feed_stdin && devnull < 0) return Status::IoError("cannot open /dev/null for a task's stdin");
  int in[2] = {-1, -1}, outp[2] = {-1, -1}, err[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {in[0], in[1], outp[0], outp[1], err[0], err[1]}) CloseQuietly(fd);
  };
  if ((feed_stdin && pipe2(in, O_CLOEXEC) != 0) || pipe2(outp, O_CLOEXEC) != 0 ||
      pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close_all();
    return Status::IoError(std::string("cannot create pipes for a task: ") + strerror(e));
  }
  // Only our ends are non-blocking; the command gets ordinary blocking pipes.
  for (int fd : {in[1], outp[0], err[0]}) {
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  thread_local ChildStack stack;
  char* top = stack.Top((64 << 10) + (args.size() + 3) * sizeof(char*));
  if (top == nullptr) {
    int e = errno;
    close_all();
    return Status::IoError(std::string("cannot map a stack to start a task: ") + strerror(e));
  }
  ChildArgs a;
  a.parent = getpid();
  a.fd_in = feed_stdin ? in[0] : devnull;
  a.fd_out = outp[1];
  a.fd_err = err[1];
  a.argv = argv.data();
  a.envp = envp.data();
  // Nothing may be delivered to the child before it has reset the
  // dispositions: a handler of ours would run in our own memory. It unblocks
  // them itself (PrepareChild); we restore our mask once it has exec'ed.
  // Except SIGCHLD: while this thread blocked it, the SIGCHLD of an earlier
  // command would go to another thread of ours and interrupt its system call
  // (EINTR; seen in tests). Nobody sends SIGCHLD to a child that has no
  // children yet, and the worker's handler (SignalPipe: a write to its pipe)
  // would be harmless there anyway.
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGCHLD);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = clone(RunChild, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    close_all();
    return Status::IoError(std::string("cannot start a task: ") + strerror(clone_errno));
  }
  // No setpgid here: the clone returned only once the child had exec'ed or
  // exited, and it made its own group first thing.
  for (int fd : {in[0], outp[1], err[1]}) CloseQuietly(fd);

  std::unique_ptr<ProcessRunner> r(new ProcessRunner(spec));
  r->pid_ = pid;
  r->fds_ = {in[1], outp[0], err[0]};
  if (a.failed != 0) {
    r->start_error_ = StartErrorText(spec.argv[0], a.error, a.stage_exec != 0,
                                     &r->start_permanent_);
    r->CloseFd(&r->fds_.stdin_fd);
    r->CloseFd(&r->fds_.stdout_fd);
    r->CloseFd(&r->fds_.stderr_fd);
    while (waitpid(pid, &r->wait_status_, 0) < 0 && errno == EINTR) {
    }
    r->reaped_ = true;
    r->reaped_at_ms_ = NowMs();
  }
  *out = std::move(r);
  return Status::Ok();
}

Status ProcessRunnerStarter::Start(const ProcessSpec& spec, std::unique_ptr<TaskProcess>* out) {
  std::unique_ptr<ProcessRunner> r;
  Status s = ProcessRunner::Start(spec, &r);
  if (s.ok()) *out = std::move(r);
  return s;
}

ProcessRunner::~ProcessRunner() {
  CloseFd(&fds_.stdin_fd);
  CloseFd(&fds_.stdout_fd);
  CloseFd(&fds_.stderr_fd);
  if (pid_ > 0 && !reaped_) {
    kill(-pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void ProcessRunner::CloseFd(int* fd) {
  CloseQuietly(*fd);
  *fd = -1;
}

void ProcessRunner::Pump() {
  if (fds_.stdin_fd >= 0) {
    while (input_pos_ < input_.size()) {
      size_t chunk = std::min<size_t>(input_.size() - input_pos_, 1 << 16);
      ssize_t n = write(fds_.stdin_fd, input_.data() + input_pos_, chunk);
      if (n > 0) {
        input_pos_ += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        if (n < 0 && errno == EAGAIN) break;
        input_pos_ = input_.size();  // EPIPE: the command does not want the rest
      }
    }
    if (input_pos_ >= input_.size()) {
      CloseFd(&fds_.stdin_fd);
      std::string().swap(input_);
    }
  }
  ReadInto(&fds_.stdout_fd, true);
  ReadInto(&fds_.stderr_fd, false);
}

void ProcessRunner::ReadInto(int* fd, bool is_stdout) {
  char buf[1 << 16];
  size_t total = 0;
  while (*fd >= 0 && total < kMaxReadPerPump) {
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // EOF (or an error, which ends the stream as well)
      CloseFd(fd);
      return;
    }
    total += static_cast<size_t>(n);
    if (!is_stdout) {
      stderr_.append(buf, static_cast<size_t>(n));
      if (stderr_.size() > 2 * stderr_tail_) stderr_.erase(0, stderr_.size() - stderr_tail_);
    } else if (!stdout_overflow_) {
      stdout_.append(buf, static_cast<size_t>(n));
      if (static_cast<int64_t>(stdout_.size()) > max_stdout_) {
        // The result could never be stored: stop the command now rather
        // than buffer without bound; the rest of its output is discarded.
        stdout_overflow_ = true;
        std::string().swap(stdout_);
        Kill();
      }
    }
  }
}

void ProcessRunner::Reap() {
  if (pid_ <= 0 || reaped_) return;
  siginfo_t info{};
  // WNOWAIT: look without reaping, so that the pid (and with it the process
  // group id) cannot be reused while we kill what is left of the group.
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return;
  if (info.si_pid == 0) return;  // still running
  kill(-pid_, SIGKILL);
  while (waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  reaped_at_ms_ = NowMs();
  CloseFd(&fds_.stdin_fd);  // nobody is left to read it
}

void ProcessRunner::Terminate() {
  if (pid_ > 0 && !reaped_) kill(-pid_, SIGTERM);
}

void ProcessRunner::Kill() {
  if (pid_ > 0 && !reaped_) kill(-pid_, SIGKILL);
}

bool ProcessRunner::Finished() const {
  if (!reaped_) return false;
  bool drained = fds_.stdout_fd < 0 && fds_.stderr_fd < 0;
  return drained || NowMs() - reaped_at_ms_ >= kPipeGraceMs;
}

ProcessOutcome ProcessRunner::TakeOutcome() {
  CloseFd(&fds_.stdout_fd);
  CloseFd(&fds_.stderr_fd);
  ProcessOutcome o;
  if (!start_error_.empty()) {
    o.exit_code = 127;  // what a shell reports for a command it cannot run
    o.error = start_error_;
    o.permanent = start_permanent_;
    return o;
  }
  if (WIFEXITED(wait_status_)) {
    o.exit_code = WEXITSTATUS(wait_status_);
  } else if (WIFSIGNALED(wait_status_)) {
    o.signal = WTERMSIG(wait_status_);
  }
  if (stdout_overflow_) {
    // We killed it; report that even if it managed to exit first, so that
    // no reader of the result can mistake the attempt for a success.
    o.exit_code = -1;
    o.signal = SIGKILL;
    o.error = "result too large: the command wrote more than " + std::to_string(max_stdout_) +
              " bytes to stdout (the limit), so it was killed";
    return o;
  }
  if (o.exit_code != 0 || o.signal != 0) {
    if (stderr_.size() > stderr_tail_) stderr_.erase(0, stderr_.size() - stderr_tail_);
    o.error = std::move(stderr_);
  }
  o.output = std::move(stdout_);
  return o;
}

}  // namespace leaseq::worker
