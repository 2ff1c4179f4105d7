// leaseq-worker's command line: WorkerMain() (worker_main.h), the main() of
// leaseq-worker and of every custom worker (leaseq::Worker::Run), so that
// every flag here works for both. Runs tasks from a leaseq broker (see
// README, "Using it"; docs/semantics.md).
//   leaseq-worker [--broker EP] [--slots N] [--name NAME] [--nanny]
//                 [--memory-limit SIZE] [--queue NAME]... [--drain-timeout-ms MS]
//                 [--heartbeat-ms MS] [--curve-secret FILE --curve-server FILE]
// Exit status: 0 after a clean stop (SIGTERM/SIGINT), 2 for bad flags,
// 1 when it cannot run at all, 4 (kExitNameInUse) when the broker refused
// its name because another live worker holds it.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "common/curve.h"
#include "worker/memory.h"
#include "worker/nanny.h"
#include "worker/worker_loop.h"
#include "worker/worker_identity.h"
#include "worker/worker_main.h"

namespace {

using leaseq::worker::NannyOptions;
using leaseq::worker::WorkerOptions;

// The flags a nanny passes to its worker: everything it was given, as
// parsed, minus --nanny and --memory-limit (the nanny's own), with the
// name fixed so that every restart registers under the same name.
std::vector<std::string> WorkerArgv(const char* argv0, const WorkerOptions& w) {
  std::vector<std::string> a = {argv0,
                                "--broker", w.broker,
                                "--slots", std::to_string(w.slots),
                                "--prefetch", std::to_string(w.prefetch),
                                "--name", w.name,
                                "--drain-timeout-ms", std::to_string(w.drain_timeout_ms),
                                "--heartbeat-ms", std::to_string(w.heartbeat_ms),
                                "--log-format", leaseq::log::FormatName(leaseq::log::CurrentFormat())};
  for (const auto& q : w.queues) {
    a.push_back("--queue");
    a.push_back(q);
  }
  if (w.curve.enabled) {  // absolute: the files were found from our directory
    a.insert(a.end(), {"--curve-secret", std::filesystem::absolute(w.curve.secret_file).string(),
                       "--curve-server", std::filesystem::absolute(w.curve.server_file).string()});
  }
  return a;
}

}  // namespace

int leaseq::worker::WorkerMain(int argc, char** argv,
                               std::shared_ptr<const FunctionRegistry> functions) {
  WorkerOptions w;
  w.functions = std::move(functions);
  w.broker = leaseq::config::BrokerEndpointFromEnv();
  w.queues.clear();
  bool nanny = false;
  std::string memory_limit;
  std::string curve_secret, curve_server;

  CLI::App app{"leaseq-worker: runs tasks leased from a leaseq broker"};
  app.add_option("--broker", w.broker, "broker endpoint (default: $LEASEQ_BROKER or " +
                                           std::string(leaseq::config::kDefaultBroker) + ")");
  app.add_option("--slots", w.slots, "tasks run at once")
      ->default_val(1)
      ->check(CLI::Range(1, 4096));
  app.add_option("--prefetch", w.prefetch,
                 "tasks held beyond --slots, started as soon as a slot frees (default: "
                 "adaptive, about 25 ms of work per slot from the recent run times, from 0 "
                 "for long tasks to 64 per slot (at most 1024) for instant ones; 0 for none)")
      ->check(CLI::Range(-1, 65536));
  app.add_option("--name", w.name,
                 "worker name, one live worker each: a name held by another live worker is "
                 "refused (exit 4) (default: <hostname>[-<engine>]-<pid>-<8 random hex digits>, "
                 "<engine> being slurm<job>[.<step>] in a Slurm job or pod-<POD_NAME> in Kubernetes)");
  // Set by a nanny for its child (hidden): the child's session
  // "<nanny-id>.<n>" and the nanny's id (Nanny, name_claim.h).
  app.add_option("--session", w.session)->group("");
  app.add_option("--nanny-id", w.nanny)->group("");
  app.add_flag("--nanny", nanny, "run the worker under a supervisor that restarts it");
  app.add_option("--memory-limit", memory_limit,
                 "with --nanny: kill and restart the worker at 95% of SIZE (e.g. 400MB, 1GiB)");
  app.add_option("--queue", w.queues, "queue to take tasks from (repeatable; default: default)")
      ->allow_extra_args(false);  // one name per --queue, as the README writes it
  app.add_option("--drain-timeout-ms", w.drain_timeout_ms,
                 "on SIGTERM, how long running tasks may finish")
      ->default_val(leaseq::config::kDrainTimeoutMs)
      ->check(CLI::Range(0, 24 * 3600 * 1000));
  app.add_option("--heartbeat-ms", w.heartbeat_ms,
                 "heartbeat interval until the broker's welcome sets it")
      ->default_val(leaseq::config::kHeartbeatMs)
      ->check(CLI::Range(10, 3600 * 1000));
  app.add_option("--curve-secret", curve_secret,
                 "CURVE: this worker's key pair, a .secret file of leaseq-ctl keygen (env " +
                     std::string(leaseq::config::kEnvCurveSecret) + ")");
  app.add_option("--curve-server", curve_server,
                 "CURVE: the broker's public key, its .pub file (env " +
                     std::string(leaseq::config::kEnvCurveServer) + ")");
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text: a line per event with an RFC 3339 time and a level; json: one JSON "
                 "object per line, for log shippers (passed on by a nanny to its worker)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  leaseq::cli::AddVersionFlag(app);
  if (auto done = leaseq::cli::Parse(app, argc, argv)) return *done;
  leaseq::log::Format format;
  (void)leaseq::log::ParseFormat(log_format, &format);  // checked by IsMember

  int64_t limit_bytes = 0;
  if (!memory_limit.empty()) {
    if (!nanny) {
      fprintf(stderr,
              "leaseq-worker: --memory-limit needs --nanny: the nanny is the process that "
              "watches the worker's memory, kills it at 95%% of the limit and restarts it\n");
      return 2;
    }
    leaseq::Status s = leaseq::worker::ParseMemorySize(memory_limit, &limit_bytes);
    if (!s.ok()) {
      fprintf(stderr, "leaseq-worker: --memory-limit: %s\n", s.message().c_str());
      return 2;
    }
  }
  if (w.queues.empty()) w.queues = {"default"};
  for (const auto& q : w.queues) {
    if (q.empty()) {
      fprintf(stderr, "leaseq-worker: --queue: a queue name must not be empty\n");
      return 2;
    }
  }
  leaseq::Status curve_status =
      leaseq::curve::LoadClientFromFlagsOrEnv(curve_secret, curve_server, &w.curve);
  if (!curve_status.ok()) {
    fprintf(stderr, "leaseq-worker: %s\n", curve_status.message().c_str());
    return 2;
  }
  // Under a nanny the name is the nanny's, so that it survives restarts.
  if (w.name.empty()) w.name = leaseq::worker::DefaultWorkerName();
  leaseq::log::Configure("leaseq-worker[" + w.name + "]", format);

  leaseq::Status s;
  if (nanny) {
    NannyOptions n;
    n.worker_argv = WorkerArgv(argv[0], w);
    n.broker = w.broker;
    n.name = w.name;
    n.memory_limit_bytes = limit_bytes;
    n.drain_timeout_ms = w.drain_timeout_ms;
    n.curve = w.curve;  // for its own `lost` notices
    s = leaseq::worker::Nanny(std::move(n)).Run();
  } else {
    s = leaseq::worker::WorkerLoop(w).Run();
  }
  if (!s.ok()) {
    leaseq::log::Error(s.message());
    return s.code() == leaseq::Status::Code::kConflict ? kExitNameInUse : 1;
  }
  return 0;
}
