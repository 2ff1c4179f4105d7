// leaseq-ctl: look at and steer a leaseq broker.
//
//   leaseq-ctl [--broker EP] [--timeout-ms MS] status | workers | show KEY |
//              result KEY | wait KEY... [--timeout D] | cancel KEY... |
//              cancel --queue Q | retry KEY... | retry --state S [--queue Q] |
//              pause Q | resume Q | list [--state S] [--queue Q] [--limit N]
//              [--json] | purge --state S [--older-than D] [--queue Q] |
//              backup FILE
//   leaseq-ctl keygen PATH      (a CURVE key pair: PATH.secret, PATH.pub)
//   with --curve-secret FILE --curve-server FILE (or env LEASEQ_CURVE_SECRET /
//   LEASEQ_CURVE_SERVER) against a CURVE broker
//
// Contract: README.md "leaseq-ctl"; the requests are those of
// docs/protocol.md "Client commands". A broker that does not answer within
// --timeout-ms for each of the client's tries (default 2.5 s x 3) gives a
// clear message and exit 3. Durations (D) are 1500ms, 30s, 5m, 2h. Exit
// codes: tools/common/exit_codes.h.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/client.h"
#include "common/config.h"
#include "common/curve.h"
#include "common/duration.h"
#include "tools/common/exit_codes.h"
#include "tools/common/request.h"
#include "tools/common/state_counts.h"
#include "tools/ctl/commands.h"

namespace {

int Usage(const std::string& message) {
  std::fprintf(stderr, "leaseq-ctl: %s\n", message.c_str());
  return leaseq::tools::exit_code::kUsage;
}

bool KnownState(const std::string& state) {
  for (auto name : leaseq::tools::kTaskStateNames) {
    if (name == state) return true;
  }
  return false;
}

// A duration flag: empty is "not given" (0).
bool Duration(const char* flag, const std::string& text, int64_t* ms, int* rc) {
  *ms = 0;
  if (text.empty()) return true;
  leaseq::Status s = leaseq::ParseDuration(text, ms);
  if (!s.ok()) *rc = Usage(std::string(flag) + ": " + s.message());
  return s.ok();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace leaseq;
  using namespace leaseq::tools;

  std::string broker = config::BrokerEndpointFromEnv();
  int timeout_ms = config::kClientTimeoutMs;
  std::string curve_secret, curve_server;
  std::string key;
  std::vector<std::string> keys;
  std::string state, queue, limit_text = "100", duration_text;
  bool json = false;

  CLI::App app{"Look at and steer a leaseq broker.", "leaseq-ctl"};
  app.add_option("--broker", broker, "broker endpoint (env LEASEQ_BROKER)")->capture_default_str();
  app.add_option("--timeout-ms", timeout_ms, "wait this long for each try of a request")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--curve-secret", curve_secret,
                 "CURVE: our key pair, a .secret file of keygen (env LEASEQ_CURVE_SECRET)");
  app.add_option("--curve-server", curve_server,
                 "CURVE: the broker's public key, its .pub file (env LEASEQ_CURVE_SERVER)");
  app.require_subcommand(1);
  app.fallthrough();  // global options also after the subcommand
  app.footer("Durations: 1500ms, 30s, 5m, 2h. Exit: 0 ok, 1 task(s) not done / unknown / "
             "unchanged or wait --timeout passed, 2 bad usage or input, 3 broker unreachable "
             "or unable now.");

  auto* status = app.add_subcommand("status", "tasks per state and workers per state");
  auto* workers = app.add_subcommand("workers", "the workers the broker knows");
  auto* show = app.add_subcommand("show", "a task and its attempts, as JSON");
  show->add_option("KEY", key, "task key")->required();
  auto* result = app.add_subcommand("result", "write a done task's result bytes to stdout");
  result->add_option("KEY", key, "task key")->required();
  auto* wait = app.add_subcommand("wait", "block until the tasks are terminal; 0 if all done; "
                                          "names the first failures");
  wait->add_option("KEY", keys, "task keys")->required();
  wait->add_option("--timeout", duration_text,
                   "stop waiting after this long (1500ms, 30s, 5m, 2h): exit 1, the tasks go on");
  auto* cancel = app.add_subcommand(
      "cancel", "cancel tasks (a running command is killed; dependents fail), by key or every "
                "unfinished task of a queue (--queue)");
  cancel->add_option("KEY", keys, "task keys");
  cancel->add_option("--queue", queue, "cancel every waiting, queued and running task of it");
  auto* retry = app.add_subcommand(
      "retry", "put failed or cancelled tasks back in the queue, by key or by state "
               "(--state failed|cancelled [--queue Q])");
  retry->add_option("KEY", keys, "task keys");
  retry->add_option("--state", state, "retry every task in this state: failed or cancelled");
  retry->add_option("--queue", queue, "with --state: only the tasks of this queue");
  auto* pause = app.add_subcommand(
      "pause", "lease nothing more from a queue (running tasks finish); durable across restarts");
  pause->add_option("QUEUE", queue, "queue name")->required();
  auto* resume = app.add_subcommand("resume", "lease from a paused queue again");
  resume->add_option("QUEUE", queue, "queue name")->required();
  auto* list = app.add_subcommand(
      "list", "tasks (key, state, queue, attempts, age in state, first line of the error), "
              "failed first; bounded by --limit");
  list->add_option("--state", state, "only this state: waiting, queued, running, done, failed, cancelled");
  list->add_option("--queue", queue, "only this queue");
  list->add_option("--limit", limit_text, "at most this many tasks (0 to 10000)")->capture_default_str();
  list->add_flag("--json", json, "one JSON object per task and line");
  auto* purge = app.add_subcommand(
      "purge", "delete finished tasks with their attempts (a task another task runs after is "
               "kept until that one goes); prints how many");
  purge->add_option("--state", state, "done, failed or cancelled")->required();
  purge->add_option("--older-than", duration_text, "only tasks that ended longer ago than this "
                                                   "(1500ms, 30s, 5m, 2h)");
  purge->add_option("--queue", queue, "only the tasks of this queue");
  auto* backup = app.add_subcommand(
      "backup", "the broker writes a consistent copy of its database to FILE on ITS host "
                "(online: the broker keeps running); FILE must not exist");
  backup->add_option("FILE", key, "where, on the broker's host (relative: to its working "
                                  "directory)")->required();
  auto* keygen = app.add_subcommand(
      "keygen", "write a new CURVE key pair: PATH.secret (secret, mode 0600) and PATH.pub");
  keygen->add_option("PATH", key, "where to write, without the .secret/.pub suffix")->required();

  cli::AddVersionFlag(app);
  if (auto done = cli::Parse(app, argc, argv)) return *done;
  if (*keygen) return ctl::RunKeygen(key);
  if (Status s = CheckEndpoint(broker); !s.ok()) {
    std::fprintf(stderr, "leaseq-ctl: %s\n", s.message().c_str());
    return exit_code::kUsage;
  }

  curve::ClientSettings curve;
  if (Status s = curve::LoadClientFromFlagsOrEnv(curve_secret, curve_server, &curve); !s.ok()) {
    std::fprintf(stderr, "leaseq-ctl: %s\n", s.message().c_str());
    return exit_code::kUsage;
  }
  // Check what the broker would refuse anyway, so that a typo is bad usage
  // even when the broker is away.
  int rc = exit_code::kUsage;
  int64_t duration_ms = 0;
  if (!Duration(*purge ? "--older-than" : "--timeout", duration_text, &duration_ms, &rc)) return rc;
  // As leaseq-submit --wait-timeout: 0 would read as "no limit" (WaitOptions).
  if (*wait && !duration_text.empty() && duration_ms == 0) {
    return Usage("--timeout: it must be longer than 0");
  }
  if (!state.empty() && !KnownState(state)) {
    return Usage("unknown state '" + state + "' (waiting, queued, running, done, failed, cancelled)");
  }
  if ((*cancel || *retry) && keys.empty() == (*cancel ? queue.empty() : state.empty())) {
    return Usage(*cancel ? "cancel takes KEY... or --queue Q (one of the two)"
                         : "retry takes KEY... or --state S [--queue Q] (one of the two)");
  }
  if (*retry && state.empty() && !queue.empty()) return Usage("retry --queue goes with --state");
  if (*retry && !state.empty() && state != "failed" && state != "cancelled") {
    return Usage("retry --state takes failed or cancelled, not " + state);
  }
  if (*purge && state != "done" && state != "failed" && state != "cancelled") {
    return Usage("purge --state takes done, failed or cancelled, not " + state);
  }
  ctl::ListArgs list_args{state, queue, 0, json};
  if (*list) {
    char* end = nullptr;
    errno = 0;
    list_args.limit = std::strtoll(limit_text.c_str(), &end, 10);
    if (limit_text.empty() || *end != '\0' || errno != 0 || list_args.limit < 0 ||
        list_args.limit > 10000) {
      return Usage("--limit takes a whole number from 0 to 10000, not '" + limit_text + "'");
    }
  }

  Client client(broker, timeout_ms, -1, curve);
  if (*status) return ctl::RunStatus(client);
  if (*workers) return ctl::RunWorkers(client);
  if (*show) return ctl::RunShow(client, key);
  if (*result) return ctl::RunResult(client, key);
  if (*wait) return ctl::RunWait(client, keys, duration_ms);
  if (*cancel && !queue.empty()) return ctl::RunCancelQueue(client, queue);
  if (*cancel) return ctl::RunChange(client, wire::Command::kCancel, keys);
  if (*retry && !state.empty()) return ctl::RunRetryState(client, state, queue);
  if (*retry) return ctl::RunChange(client, wire::Command::kRetry, keys);
  if (*pause) return ctl::RunPause(client, queue, true);
  if (*resume) return ctl::RunPause(client, queue, false);
  if (*list) return ctl::RunList(client, list_args);
  if (*purge) return ctl::RunPurge(client, state, queue, duration_ms);
  if (*backup) return ctl::RunBackup(client, key);
  return exit_code::kUsage;
}
