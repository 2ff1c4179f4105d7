// Test harness for integration tests: starts the real leaseq binaries as
// processes on 127.0.0.1 with a real SQLite file in a temporary directory,
// signals them, and waits on conditions with deadlines (never fixed sleeps).
// Not thread-safe; one harness per test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/testing/child_process.h"
#include "tools/testing/temp_dir.h"

namespace leaseq::testing {

// The directory of the built binaries (build/bin; env LEASEQ_TEST_BIN_DIR overrides).
std::string BinDir();

// A fresh temporary directory, removed with its content on destruction.
using test_support::TempDir;
using test_support::FreePort;

// A child process (test_support::ChildProcess) with stdout and stderr in
// files named after log_prefix. Killed (SIGKILL) when destroyed if still
// running.
class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::string& log_prefix, const std::map<std::string, std::string>& env = {});
  pid_t pid() const { return child_.pid(); }
  void Signal(int sig) { child_.Signal(sig); }
  // Waits for exit until the deadline; true when it exited. Sets the status.
  bool WaitExit(std::chrono::milliseconds timeout) { return child_.WaitExit(timeout); }
  bool running() { return child_.Running(); }
  int exit_code() const { return child_.exit_code(); }  // -1 if killed by a signal
  int term_signal() const { return child_.term_signal(); }
  std::string Stdout() const { return test_support::ReadFile(out_path_); }
  std::string Stderr() const { return test_support::ReadFile(err_path_); }

 private:
  test_support::ChildProcess child_;
  std::string out_path_, err_path_;
};

// Runs a command to completion (with a timeout) and captures its output.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env = {},
                  const std::string& stdin_text = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Polls cond every 20 ms until it is true or the timeout passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// One value of a SQL query on the database file (read-only, fresh connection);
// empty string for NULL or no row.
std::string Query(const std::string& db, const std::string& sql);
int64_t QueryInt(const std::string& db, const std::string& sql);

// A broker and workers on a temp database and a free port.
class Cluster {
 public:
  explicit Cluster(std::vector<std::string> broker_args = {});
  ~Cluster();
  const std::string& endpoint() const { return endpoint_; }
  std::string db() const { return dir_.File("leaseq.db"); }
  const TempDir& dir() const { return dir_; }

  Process& StartBroker();
  void StopBroker(int sig);  // sends sig, waits for exit
  Process& broker() { return *broker_; }
  Process& StartWorker(const std::vector<std::string>& args);
  // Environment added to every worker, leaseq-submit and leaseq-ctl this
  // cluster starts (also the readiness check of StartBroker), e.g. the
  // LEASEQ_CURVE_* variables for a CURVE broker.
  void set_client_env(std::map<std::string, std::string> env) { client_env_ = std::move(env); }
  // Environment of the broker process only (e.g. libfaketime's).
  void set_broker_env(std::map<std::string, std::string> env) { broker_env_ = std::move(env); }
  std::vector<std::unique_ptr<Process>>& workers() { return workers_; }

  // leaseq-submit / leaseq-ctl against this cluster.
  CommandResult Submit(const std::vector<std::string>& args, const std::string& stdin_text = "");
  CommandResult Ctl(const std::vector<std::string>& args);
  // Tasks in a state, read from the database.
  int64_t CountState(const std::string& state);

 private:
  TempDir dir_;
  std::string endpoint_;
  std::vector<std::string> broker_args_;
  std::unique_ptr<Process> broker_;
  std::vector<std::unique_ptr<Process>> workers_;
  int broker_starts_ = 0;
  std::map<std::string, std::string> client_env_;
  std::map<std::string, std::string> broker_env_;
};

// Fast heartbeats for tests: a lost worker is noticed in 200 x 3 = 600 ms.
inline const std::vector<std::string> kFastBroker = {"--heartbeat-ms", "200", "--liveness", "3"};

}  // namespace leaseq::testing
