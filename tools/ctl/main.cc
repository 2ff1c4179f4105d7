// leaseq-ctl: look at and steer a leaseq broker.
//
//   leaseq-ctl [--broker EP] [--timeout-ms MS] status | workers | show KEY |
//              result KEY | wait KEY... | cancel KEY... | retry KEY...
//   leaseq-ctl keygen PATH      (a CURVE key pair: PATH.secret, PATH.pub)
//   with --curve-secret FILE --curve-server FILE (or env LEASEQ_CURVE_SECRET /
//   LEASEQ_CURVE_SERVER) against a CURVE broker
//
// Contract: SPEC "leaseq-ctl"; the requests are those of docs/protocol.md
// "Client commands". A broker that does not answer within --timeout-ms for
// each of the client's tries (default 2.5 s x 3) gives a clear message and
// exit 3. Exit codes: tools/common/exit_codes.h.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/client.h"
#include "common/config.h"
#include "common/curve.h"
#include "tools/common/exit_codes.h"
#include "tools/common/request.h"
#include "tools/ctl/commands.h"

int main(int argc, char** argv) {
  using namespace leaseq;
  using namespace leaseq::tools;

  std::string broker = config::BrokerEndpointFromEnv();
  int timeout_ms = config::kClientTimeoutMs;
  std::string curve_secret, curve_server;
  std::string key;
  std::vector<std::string> keys;

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
  app.footer("Exit: 0 ok, 1 task(s) not done / unknown / unchanged, 2 bad usage, "
             "3 broker unreachable.");

  auto* status = app.add_subcommand("status", "tasks per state and workers per state");
  auto* workers = app.add_subcommand("workers", "the workers the broker knows");
  auto* show = app.add_subcommand("show", "a task and its attempts, as JSON");
  show->add_option("KEY", key, "task key")->required();
  auto* result = app.add_subcommand("result", "write a done task's result bytes to stdout");
  result->add_option("KEY", key, "task key")->required();
  auto* wait = app.add_subcommand("wait", "block until the tasks are terminal; 0 if all done");
  wait->add_option("KEY", keys, "task keys")->required();
  auto* cancel = app.add_subcommand("cancel", "cancel tasks (a running command is killed)");
  cancel->add_option("KEY", keys, "task keys")->required();
  auto* retry = app.add_subcommand("retry", "put failed or cancelled tasks back in the queue");
  retry->add_option("KEY", keys, "task keys")->required();
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
  Client client(broker, timeout_ms, -1, curve);
  if (*status) return ctl::RunStatus(client);
  if (*workers) return ctl::RunWorkers(client);
  if (*show) return ctl::RunShow(client, key);
  if (*result) return ctl::RunResult(client, key);
  if (*wait) return ctl::RunWait(client, keys);
  if (*cancel) return ctl::RunChange(client, wire::Command::kCancel, keys);
  if (*retry) return ctl::RunChange(client, wire::Command::kRetry, keys);
  return exit_code::kUsage;
}
