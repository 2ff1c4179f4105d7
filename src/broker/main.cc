// leaseq-broker: flags, signals, and the loop.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "broker/bind_policy.h"
#include "broker/broker_loop.h"
#include "broker/db_lock.h"
#include "broker/http/http_server.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/sd_notify.h"

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
                 "a task is failed when more workers than this died running it (confirmed deaths: a partition that ends does not count)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--heartbeat-ms", options.settings.heartbeat_ms, "heartbeat interval")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  app.add_option("--liveness", options.settings.liveness,
                 "heartbeats missed before a worker is lost")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--idle-heartbeat-factor", options.settings.idle_heartbeat_factor,
                 "a worker that holds nothing heartbeats (and is heartbeated) this many times "
                 "less often, and is lost after as many times the silence (1: no idle rate)")
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
  std::vector<std::string> default_timeouts;
  app.add_option("--default-timeout", default_timeouts,
                 "time limit of each attempt of a task that gives none (--timeout): DURATION "
                 "for every queue, or QUEUE=DURATION for one queue (repeatable; the queue's "
                 "own beats the general one). Durations: 1500ms, 30s, 5m, 2h. Default: none")
      ->type_name("[QUEUE=]DURATION")
      ->allow_extra_args(false);
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text: a line per event with an RFC 3339 time and a level; json: one JSON "
                 "object per line, for log shippers")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--retain", retain,
                 "purge finished tasks (done, failed, cancelled) that ended longer ago than "
                 "this (1500ms, 30s, 5m, 2h), with their attempts, a small batch at a time; "
                 "a task another stored task runs after is kept until that one goes. "
                 "Default: keep everything")
      ->type_name("DURATION");
  std::string http, http_token_file;
  app.add_option("--http", http,
                 "serve /metrics (Prometheus), /healthz, a JSON API and a live dashboard at "
                 "ADDR:PORT (e.g. 127.0.0.1:8080); a loopback address unless --http-token-file "
                 "is given. Default: off")
      ->type_name("ADDR:PORT");
  app.add_option("--http-token-file", http_token_file,
                 "every HTTP request must carry 'Authorization: Bearer <token>', the first line "
                 "of FILE; allows a non-loopback --http and the dashboard's retry and cancel")
      ->type_name("FILE");
  std::string death_confirm_after = "60s";
  app.add_option("--death-confirm-after", death_confirm_after,
                 "a lost worker that has not come back after this long (1500ms, 30s, 5m) is "
                 "taken for dead: its losses count towards --allowed-failures. Sooner when its "
                 "nanny reports the death or a new process takes its name; a worker that comes "
                 "back (a partition) blames nothing")
      ->type_name("DURATION")
      ->capture_default_str();
  leaseq::cli::AddVersionFlag(app);
  if (auto done = leaseq::cli::Parse(app, argc, argv)) return *done;
  leaseq::log::Format format;
  (void)leaseq::log::ParseFormat(log_format, &format);  // checked by IsMember
  leaseq::log::Configure("leaseq-broker", format);
  if (!retain.empty()) {
    leaseq::Status d = leaseq::ParseDuration(retain, &options.retain_ms);
    if (d.ok() && options.retain_ms <= 0) d = leaseq::Status::Invalid("--retain must be more than 0");
    if (!d.ok()) {
      leaseq::log::Error("--retain: " + d.message());
      return 2;
    }
  }
  {
    leaseq::Status d = leaseq::ParseDuration(death_confirm_after, &options.settings.death_confirm_ms);
    if (d.ok() && options.settings.death_confirm_ms <= 0) {
      d = leaseq::Status::Invalid("must be more than 0");
    }
    if (!d.ok()) {
      leaseq::log::Error("--death-confirm-after: " + d.message());
      return 2;
    }
  }
  for (const auto& flag : default_timeouts) {
    leaseq::Status added = options.default_timeouts.Add(flag);
    if (!added.ok()) {
      leaseq::log::Error(added.message());
      return 2;
    }
  }
  leaseq::HttpOptions http_options{http, "", options.db_path};
  if (!http_token_file.empty()) {
    leaseq::Status t = leaseq::HttpServer::LoadToken(http_token_file, &http_options.token);
    if (!t.ok()) {
      leaseq::log::Error(t.message());
      return 2;
    }
  }
  if (!http.empty()) {
    std::string host;
    int port = 0;
    leaseq::Status c = leaseq::HttpServer::Check(http, !http_options.token.empty(), &host, &port);
    if (!c.ok()) {
      leaseq::log::Error(c.message());
      return 2;
    }
    options.metrics = std::make_shared<leaseq::BrokerMetrics>(leaseq::SystemClock().WallMs());
    options.inbox = std::make_shared<leaseq::Inbox>();
  }
  options.durability = sync == "full" ? leaseq::Durability::kFull : leaseq::Durability::kNormal;

  leaseq::Status s = leaseq::curve::LoadServer(curve_secret, curve_allow, &options.curve);
  if (!s.ok()) {
    leaseq::log::Error(s.message());
    return 2;
  }
  s = leaseq::CheckBindAddress(options.bind, insecure, options.curve.enabled);
  if (!s.ok()) {
    leaseq::log::Error(s.message());
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
  // Before the database is opened: a second broker must not even recover
  // the first one's leases (see db_lock.h).
  std::unique_ptr<leaseq::DbLock> lock;
  s = leaseq::DbLock::Acquire(options.db_path, &lock);
  if (!s.ok()) {
    leaseq::log::Error(s.message());
    return s.code() == leaseq::Status::Code::kConflict ? 2 : 1;
  }
  std::unique_ptr<leaseq::BrokerLoop> broker;
  s = leaseq::BrokerLoop::Create(options, &clock, &broker);
  if (!s.ok()) {
    leaseq::log::Error(s.message());
    // Conflict: a database this broker cannot use (a newer schema version,
    // not a leaseq file): like a bad flag, nothing to retry.
    return s.code() == leaseq::Status::Code::kConflict ? 2 : 1;
  }
  leaseq::log::Info("listening on " + broker->endpoint() + ", database " + options.db_path);
  // Bound and the database open: a Type=notify unit is ready now (a no-op
  // outside systemd). A failure to notify is logged, not fatal.
  std::unique_ptr<leaseq::HttpServer> http_server;
  if (!http.empty()) {
    s = leaseq::HttpServer::Start(http_options, options.metrics, options.inbox, &http_server);
    if (!s.ok()) {
      leaseq::log::Error(s.message());
      return 1;
    }
    leaseq::log::Info("dashboard and metrics on " + http_server->url());
  }
  leaseq::Status ready = leaseq::sd::Notify("READY=1\nSTATUS=accepting work on " + broker->endpoint());
  if (!ready.ok()) leaseq::log::Error(ready.message());
  s = broker->Run(stop_fd);
  // Before the broker goes: a retry or cancel still waiting is told so.
  if (options.inbox) options.inbox->Close();
  http_server.reset();
  leaseq::log::Info("stopped");
  close(stop_fd);
  return s.ok() ? 0 : 1;
}
