// leaseq-chaos: a broker and workers on 127.0.0.1 under seeded, reproducible
// faults, then an invariant checker over the database and the tasks'
// side-effect log. See docs/reliability.md.
//
//   leaseq-chaos [--seconds N] [--seed S] [--workers N] [--tasks N] [--bin DIR]
//                [--keep DIR] [--heartbeat-ms MS] ...
//   leaseq-chaos --net-faults ...  (also cut links: needs root)
//   leaseq-chaos --check DIR      (check a kept work directory again)
//
// Exit: 0 no violation, 1 violations, 2 bad usage, 3 the run could not be
// carried out (a binary missing, a broker that never started), 4 --net-faults
// cannot run here (not root, no ip(8)).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <random>

#include "checker.h"
#include "runner.h"
#include "tools/testing/netns.h"

namespace {

std::string DefaultBin(const char* argv0) {
  // Beside this binary (build/bin), where CMake puts every binary.
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string(argv0);
  return std::filesystem::path(self).parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  leaseq::chaos::RunOptions opt;
  opt.bin = DefaultBin(argv[0]);
  std::string keep, check_dir, seed_text;
  int examples = 5;

  CLI::App app{"leaseq-chaos: faults at random (seeded) on a local leaseq cluster, then an invariant checker"};
  app.add_option("--seconds", opt.seconds, "length of the fault window")->capture_default_str()->check(CLI::Range(0, 7 * 24 * 3600));
  app.add_option("--seed", seed_text, "the seed of the DAG and the fault schedule (default: random, printed)");
  app.add_option("--workers", opt.workers, "workers, each leaseq-worker --nanny")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--slots", opt.slots, "slots per worker")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--tasks", opt.tasks, "tasks of the main DAG (fed in waves while the window lasts)")
      ->capture_default_str()->check(CLI::Range(1, 10000000));
  app.add_option("--wave-size", opt.wave_size, "tasks per submission of the main DAG")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--poison", opt.poison, "poison tasks (default: from --tasks)")->check(CLI::NonNegativeNumber);
  app.add_option("--doomed", opt.doomed, "tasks that always fail (default: from --tasks)")->check(CLI::NonNegativeNumber);
  app.add_option("--bin", opt.bin, "directory of leaseq-broker, -worker, -submit, -ctl")->capture_default_str();
  app.add_option("--keep", keep, "use DIR as the work directory and keep it (default: a temporary one, "
                                 "removed after a clean run)");
  app.add_option("--heartbeat-ms", opt.heartbeat_ms, "broker and worker heartbeat")->capture_default_str()->check(CLI::Range(10, 60000));
  app.add_option("--liveness", opt.liveness, "heartbeats missed before a worker is lost")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--allowed-failures", opt.allowed_failures, "the broker's --allowed-failures")->capture_default_str()->check(CLI::Range(0, 100));
  app.add_option("--drain-timeout-ms", opt.drain_timeout_ms, "the workers' --drain-timeout-ms")->capture_default_str()->check(CLI::Range(0, 600000));
  app.add_option("--fault-interval-ms", opt.fault_interval_ms, "mean time between two faults")->capture_default_str()->check(CLI::Range(10, 3600000));
  app.add_option("--faults", opt.fault_kinds, "only these fault kinds (comma-separated)")
      ->delimiter(',')->check(CLI::IsMember(leaseq::chaos::AllFaultKinds()));
  app.add_flag("--net-faults", opt.net_faults,
               "the broker and each worker in a network namespace, and network faults among the kinds: "
               "a worker's link cut, every link cut, a link flapping (needs root)");
  app.add_option("--settle-seconds", opt.settle_seconds, "after the window, how long the work may take to finish")
      ->capture_default_str()->check(CLI::Range(1, 86400));
  app.add_option("--progress-seconds", opt.progress_seconds, "a progress line this often")->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--examples", examples, "examples printed per violation category")->capture_default_str();
  app.add_option("--check", check_dir, "only check a kept work directory");
  app.footer("Exit: 0 no violation, 1 violations, 2 bad usage, 3 the run could not be carried out, "
             "4 --net-faults cannot run here (needs root).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!check_dir.empty()) {
    leaseq::chaos::CheckReport r = leaseq::chaos::Check(check_dir);
    leaseq::chaos::PrintReport(r, stdout, examples);
    return r.violations() == 0 ? 0 : 1;
  }

  for (const auto& k : opt.fault_kinds) {
    if (leaseq::chaos::IsNetFault(k) && !opt.net_faults) {
      fprintf(stderr, "leaseq-chaos: --faults %s needs --net-faults\n", k.c_str());
      return 2;
    }
  }
  if (opt.net_faults) {
    std::string why;
    if (!leaseq::test_support::NetnsLab::Available(&why)) {
      fprintf(stderr, "leaseq-chaos: --net-faults cannot run here: %s. Run it as root (make chaos CHAOS_NET=1 "
                      "as root), or without --net-faults.\n", why.c_str());
      return 4;
    }
  }

  if (seed_text.empty()) {
    std::random_device rd;
    opt.seed = (static_cast<uint64_t>(rd()) << 32 | rd()) % 1000000000000ULL;
  } else {
    try {
      opt.seed = std::stoull(seed_text);
    } catch (const std::exception&) {
      fprintf(stderr, "leaseq-chaos: --seed must be a number, not '%s'\n", seed_text.c_str());
      return 2;
    }
  }
  bool temporary = keep.empty();
  if (temporary) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "leaseq-chaos-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      perror("leaseq-chaos: mkdtemp");
      return 3;
    }
    opt.dir = tmpl;
  } else {
    opt.dir = keep;
  }

  std::string error;
  if (!leaseq::chaos::RunChaos(opt, &error)) {
    fprintf(stderr, "leaseq-chaos: %s (seed %llu, work dir kept: %s)\n", error.c_str(),
            static_cast<unsigned long long>(opt.seed), opt.dir.c_str());
    return 3;
  }
  leaseq::chaos::CheckReport r = leaseq::chaos::Check(opt.dir);
  leaseq::chaos::PrintReport(r, stdout, examples);
  const bool clean = r.violations() == 0;
  if (temporary && clean) {
    std::error_code ec;
    std::filesystem::remove_all(opt.dir, ec);
  } else {
    printf("work dir kept: %s (check again: leaseq-chaos --check %s)\n", opt.dir.c_str(), opt.dir.c_str());
  }
  if (!clean) printf("reproduce: leaseq-chaos --seed %llu --seconds %d ... (same flags)\n",
                     static_cast<unsigned long long>(opt.seed), opt.seconds);
  return clean ? 0 : 1;
}
