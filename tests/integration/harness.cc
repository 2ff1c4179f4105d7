#include "harness.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace leaseq::testing {

std::string BinDir() { return LEASEQ_BIN_DIR; }

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "leaseq-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, int in_fd, int out_fd, int err_fd) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(binary.c_str(), argv.data());
  _exit(127);
}

int OpenFile(const std::string& path, int flags) { return open(path.c_str(), flags | O_CLOEXEC, 0644); }

}  // namespace

Process::Process(const std::string& binary, const std::vector<std::string>& args,
                 const std::string& log_prefix, const std::map<std::string, std::string>& env)
    : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
  int in = OpenFile("/dev/null", O_RDONLY);
  int out = OpenFile(out_path_, O_WRONLY | O_CREAT | O_TRUNC);
  int err = OpenFile(err_path_, O_WRONLY | O_CREAT | O_TRUNC);
  pid_ = Spawn(binary, args, env, in, out, err);
  close(in);
  close(out);
  close(err);
}

Process::~Process() {
  if (running()) {
    kill(pid_, SIGKILL);
    WaitExit(std::chrono::seconds(5));
  }
}

void Process::Signal(int sig) {
  if (!exited_) kill(pid_, sig);
}

bool Process::running() {
  if (exited_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    term_signal_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return false;
  }
  return true;
}

bool Process::WaitExit(std::chrono::milliseconds timeout) {
  return WaitFor([this] { return !running(); }, timeout);
}

std::string Process::Stdout() const { return ReadFile(out_path_); }
std::string Process::Stderr() const { return ReadFile(err_path_); }

CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env, const std::string& stdin_text,
                  std::chrono::milliseconds timeout) {
  TempDir dir;
  {
    std::ofstream(dir.File("stdin"), std::ios::binary) << stdin_text;
  }
  int in = OpenFile(dir.File("stdin"), O_RDONLY);
  int out = OpenFile(dir.File("out"), O_WRONLY | O_CREAT | O_TRUNC);
  int err = OpenFile(dir.File("err"), O_WRONLY | O_CREAT | O_TRUNC);
  pid_t pid = Spawn(binary, args, env, in, out, err);
  close(in);
  close(out);
  close(err);
  CommandResult r;
  int status = 0;
  bool done = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.err = "(timed out)\n";
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(dir.File("out"));
  r.err += ReadFile(dir.File("err"));
  return r;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Query(const std::string& db, const std::string& sql) {
  try {
    SQLite::Database d(db, SQLite::OPEN_READONLY);
    d.setBusyTimeout(5000);
    SQLite::Statement q(d, sql);
    if (!q.executeStep() || q.getColumn(0).isNull()) return "";
    return q.getColumn(0).getString();
  } catch (const SQLite::Exception&) {
    return "";  // not created yet
  }
}

int64_t QueryInt(const std::string& db, const std::string& sql) {
  std::string v = Query(db, sql);
  return v.empty() ? 0 : std::stoll(v);
}

Cluster::Cluster(std::vector<std::string> broker_args)
    : endpoint_("tcp://127.0.0.1:" + std::to_string(FreePort())), broker_args_(std::move(broker_args)) {}

Cluster::~Cluster() {
  for (auto& w : workers_) w->Signal(SIGKILL);
  if (broker_) broker_->Signal(SIGKILL);
}

Process& Cluster::StartBroker() {
  std::vector<std::string> args = {"--db", db(), "--bind", endpoint_};
  args.insert(args.end(), broker_args_.begin(), broker_args_.end());
  broker_ = std::make_unique<Process>(BinDir() + "/leaseq-broker", args,
                                      dir_.File("broker" + std::to_string(broker_starts_++)));
  // Ready when it answers a status request.
  WaitFor([&] { return Ctl({"status"}).exit_code == 0; }, std::chrono::seconds(10));
  return *broker_;
}

void Cluster::StopBroker(int sig) {
  broker_->Signal(sig);
  broker_->WaitExit(std::chrono::seconds(10));
}

Process& Cluster::StartWorker(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--broker", endpoint_};
  all.insert(all.end(), args.begin(), args.end());
  workers_.push_back(std::make_unique<Process>(
      BinDir() + "/leaseq-worker", all, dir_.File("worker" + std::to_string(workers_.size())),
      client_env_));
  return *workers_.back();
}

CommandResult Cluster::Submit(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> all = {"--broker", endpoint_};
  all.insert(all.end(), args.begin(), args.end());
  return RunCommand(BinDir() + "/leaseq-submit", all, client_env_, stdin_text);
}

CommandResult Cluster::Ctl(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--broker", endpoint_};
  all.insert(all.end(), args.begin(), args.end());
  return RunCommand(BinDir() + "/leaseq-ctl", all, client_env_);
}

int64_t Cluster::CountState(const std::string& state) {
  return QueryInt(db(), "SELECT count(*) FROM tasks WHERE state = '" + state + "'");
}

}  // namespace leaseq::testing
