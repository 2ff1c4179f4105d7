// leaseq-broker: flags, signals, and the loop.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "broker/bind_policy.h"
#include "broker/broker.h"
#include "common/config.h"
#include "tools/common/duration_arg.h"

int main(int argc, char** argv) {
  leaseq::BrokerOptions options;
  options.db_path = leaseq::config::DbPathFromEnv();
  options.bind = leaseq::config::BrokerEndpointFromEnv();
  options.settings = {leaseq::config::kHeartbeatMs, leaseq::config::kLiveness,
                      leaseq::config::kAllowedFailures};
  std::string sync = "normal";
  bool insecure = false;
  std::string curve_secret, curve_allow;
  std::string retain;

  CLI::App app{"leaseq-broker: the durable queue (tasks, leases and suspicion in one SQLite file)"};
  app.add_option("--db", options.db_path, "SQLite database file (env LEASEQ_DB)")->capture_default_str();
  app.add_option("--bind", options.bind, "ZeroMQ endpoint to listen on (env LEASEQ_BROKER)")
      ->capture_default_str();
  app.add_option("--allowed-failures", options.settings.allowed_failures,
                 "a task is failed when its suspicious count exceeds this")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--heartbeat-ms", options.settings.heartbeat_ms, "heartbeat interval")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  app.add_option("--liveness", options.settings.liveness,
                 "heartbeats missed before a worker is lost")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--sync", sync,
                 "normal: durable across crashes (WAL); full: also across power loss (fsync per commit)")
      ->check(CLI::IsMember({"normal", "full"}))
      ->capture_default_str();
  app.add_flag("--insecure", insecure, "allow listening on a non-loopback address without CURVE");
  app.add_option("--curve-secret", curve_secret,
                 "CURVE: the broker's key pair (a .secret file of leaseq-ctl keygen); every "
                 "connection is encrypted. Needs --curve-allow");
  app.add_option("--curve-allow", curve_allow,
                 "CURVE: directory of the *.pub keys of the workers and clients admitted "
                 "(re-read when an unknown key knocks, and at most 1 s old)");
  app.add_option("--retain", retain,
                 "purge finished tasks (done, failed, cancelled) that ended longer ago than "
                 "this (1500ms, 30s, 5m, 2h), with their attempts, a small batch at a time; "
                 "a task another stored task runs after is kept until that one goes. "
                 "Default: keep everything");
  CLI11_PARSE(app, argc, argv);
  if (!retain.empty()) {
    leaseq::Status d = leaseq::tools::ParseDurationArg(retain, &options.retain_ms);
    if (d.ok() && options.retain_ms <= 0) d = leaseq::Status::Invalid("--retain must be more than 0");
    if (!d.ok()) {
      std::fprintf(stderr, "leaseq-broker: --retain: %s\n", d.message().c_str());
      return 2;
    }
  }
  options.durability = sync == "full" ? leaseq::Durability::kFull : leaseq::Durability::kNormal;

  leaseq::Status s = leaseq::curve::LoadServer(curve_secret, curve_allow, &options.curve);
  if (!s.ok()) {
    std::fprintf(stderr, "leaseq-broker: %s\n", s.message().c_str());
    return 2;
  }
  s = leaseq::CheckBindAddress(options.bind, insecure, options.curve.enabled);
  if (!s.ok()) {
    std::fprintf(stderr, "leaseq-broker: %s\n", s.message().c_str());
    return 2;
  }

  // SIGTERM / SIGINT end the loop between passes: a clean exit.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int stop_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);

  leaseq::SystemClock clock;
  std::unique_ptr<leaseq::Broker> broker;
  s = leaseq::Broker::Create(options, &clock, &broker);
  if (!s.ok()) {
    std::fprintf(stderr, "leaseq-broker: %s\n", s.message().c_str());
    // Conflict: a database this broker cannot use (a newer schema version,
    // not a leaseq file): like a bad flag, nothing to retry.
    return s.code() == leaseq::Status::Code::kConflict ? 2 : 1;
  }
  std::fprintf(stderr, "leaseq-broker: listening on %s, database %s\n", broker->endpoint().c_str(),
               options.db_path.c_str());
  s = broker->Run(stop_fd);
  std::fprintf(stderr, "leaseq-broker: stopped\n");
  close(stop_fd);
  return s.ok() ? 0 : 1;
}
