#include "harness.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace leaseq::testing {

// LEASEQ_TEST_BIN_DIR runs the tests against other binaries (say, an older
// build, to see a test fail before a fix).
std::string BinDir() {
  const char* dir = getenv("LEASEQ_TEST_BIN_DIR");
  return dir != nullptr && *dir != '\0' ? dir : LEASEQ_BIN_DIR;
}

Process::Process(const std::string& binary, const std::vector<std::string>& args,
                 const std::string& log_prefix, const std::map<std::string, std::string>& env)
    : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
  test_support::ChildOptions o;
  o.stdout_path = out_path_;
  o.stderr_path = err_path_;
  o.env = env;
  std::string error;
  if (!child_.Start(binary, args, o, &error)) throw std::runtime_error(error);
}

CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env, const std::string& stdin_text,
                  std::chrono::milliseconds timeout) {
  TempDir dir;
  {
    std::ofstream(dir.File("stdin"), std::ios::binary) << stdin_text;
  }
  test_support::ChildOptions o;
  o.stdin_path = dir.File("stdin");
  o.stdout_path = dir.File("out");
  o.stderr_path = dir.File("err");
  o.env = env;
  CommandResult r;
  test_support::ChildProcess child;
  if (!child.Start(binary, args, o, &r.err)) return r;
  if (!child.WaitExit(timeout)) {
    child.Signal(SIGKILL);
    child.WaitExit(std::chrono::seconds(5));
    r.err = "(timed out)\n";
  }
  r.exit_code = child.exit_code();
  r.out = test_support::ReadFile(dir.File("out"));
  r.err += test_support::ReadFile(dir.File("err"));
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
                                      dir_.File("broker" + std::to_string(broker_starts_++)),
                                      broker_env_);
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
