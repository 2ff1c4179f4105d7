// The store alone, without sockets: how much CPU the broker's SQL spends per
// task on the hot path (lease a batch, store each result, commit), by pass
// size. The broker's loop does this plus the messages; this isolates the
// store for profiling (perf record leaseq-bench-store ...) and for A/B runs
// of a store change on a busy machine (CPU time of one thread, not a
// wall-clock race with other processes).
//
// Usage: leaseq-bench-store --db /tmp/x.db --tasks 50000 --per-pass 16
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "broker/store.h"

namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Check(const leaseq::Status& s, const char* what) {
  if (s.ok()) return true;
  std::fprintf(stderr, "leaseq-bench-store: %s: %s\n", what, s.message().c_str());
  return false;
}

// Each pass stores the results of the previous pass's leases and leases
// the next batch, as a pass of the broker under a steady stream does.
// Returns the number of passes, or -1. Not inlined: `valgrind --tool=callgrind
// --collect-atstart=no --toggle-collect=RunPasses` counts its instructions
// alone, a figure that other processes on the machine do not move.
__attribute__((noinline)) int64_t RunPasses(leaseq::Store* store, const leaseq::WorkerRecord& w,
                                            int64_t tasks, int64_t per_pass) {
  std::vector<leaseq::Assignment> held;
  int64_t done = 0, passes = 0;
  while (done < tasks) {
    const int64_t now = WallMs();
    if (!Check(store->Begin(), "begin")) return -1;
    // The pass's results as one `results` frame brings them.
    std::vector<leaseq::AttemptResult> results(held.size());
    for (size_t i = 0; i < held.size(); ++i) {
      results[i].attempt_id = held[i].attempt_id;
      results[i].exit_code = 0;
    }
    if (!Check(store->CompleteAll(w.name, results, now), "complete")) return -1;
    done += static_cast<int64_t>(held.size());
    held.clear();
    if (!Check(store->Claim(w, per_pass, now, &held, per_pass), "claim")) return -1;
    if (!Check(store->Commit(), "commit")) return -1;
    store->CheckpointIfDue();  // as the broker does after each pass
    ++passes;
    if (held.empty() && done < tasks) {
      std::fprintf(stderr, "leaseq-bench-store: nothing leased with %lld of %lld done\n",
                   static_cast<long long>(done), static_cast<long long>(tasks));
      return -1;
    }
  }
  return passes;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The broker's store alone: CPU per task of lease + result + commit"};
  std::string path = "/tmp/leaseq-bench-store.db";
  int64_t tasks = 50000;
  int64_t per_pass = 16;
  bool full = false;
  app.add_option("--db", path, "database file (removed first)");
  app.add_option("--tasks", tasks, "noop tasks to submit, then lease and finish");
  app.add_option("--per-pass", per_pass, "tasks leased and finished per transaction");
  app.add_flag("--sync-full", full, "PRAGMA synchronous = FULL (fsync per commit)");
  CLI11_PARSE(app, argc, argv);
  // Alone, the store's temporary B-trees (a few hundred KiB per pass) sit at
  // the top of the heap, and glibc gives them back to the kernel and faults
  // them in again on every pass; in leaseq-broker the sockets' buffers hold
  // the top of the heap and this never happens (strace: no brk per pass).
  // Keep the bench from measuring what the broker does not do.
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);

  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  std::unique_ptr<leaseq::Store> store;
  if (!Check(leaseq::Store::Open(path, full ? leaseq::Durability::kFull : leaseq::Durability::kNormal,
                                 leaseq::rules::Settings{}, &store),
             "open")) {
    return 1;
  }
  std::vector<leaseq::TaskSpec> specs(tasks);
  for (auto& t : specs) {
    t.key = leaseq::GenerateKey();  // as leaseq-submit names them
    t.fn = "noop";
  }
  int bad = -1;
  if (!Check(store->Begin(), "begin") || !Check(store->Submit(specs, WallMs(), &bad), "submit") ||
      !Check(store->Commit(), "commit")) {
    return 1;
  }
  specs.clear();

  leaseq::WorkerRecord w;
  w.name = "w1";
  w.pid = 1;
  w.session = "s1";
  w.slots = per_pass;
  w.queues = {"default"};
  w.fns = {"noop"};
  bool same = false;
  if (!Check(store->Begin(), "begin") || !Check(store->RegisterWorker(w, WallMs(), &same), "register") ||
      !Check(store->Commit(), "commit")) {
    return 1;
  }

  const double cpu0 = ThreadCpuSeconds();
  const auto wall0 = std::chrono::steady_clock::now();
  const int64_t passes = RunPasses(store.get(), w, tasks, per_pass);
  if (passes < 0) return 1;
  const double cpu = ThreadCpuSeconds() - cpu0;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::printf("{\"tasks\": %lld, \"per_pass\": %lld, \"passes\": %lld, \"cpu_us_per_task\": %.2f, "
              "\"wall_tasks_per_s\": %.0f}\n",
              static_cast<long long>(tasks), static_cast<long long>(per_pass),
              static_cast<long long>(passes), cpu * 1e6 / tasks, tasks / wall);
  return 0;
}
