// leaseq-sim: deterministic simulation of a whole leaseq cluster
// (docs/simulation.md). One seed, one run, the same every time:
//
//   leaseq-sim --seed 42                 one run; on a violation, the shrunk
//                                        trace and the command that replays it
//   leaseq-sim --first 1 --seeds 2000    many seeds (ctest)
//   leaseq-sim --seconds 600             seeds from --first until the time is up
//   leaseq-sim --seed 42 --faults 0,3    only those faults of the seed's schedule
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include "scenario.h"
#include "simulation.h"

namespace {

using leaseq::sim::RunResult;
using leaseq::sim::Scenario;

std::vector<int> AllFaults(const Scenario& s) {
  std::vector<int> all;
  for (size_t i = 0; i < s.faults.size(); ++i) all.push_back(static_cast<int>(i));
  return all;
}

std::string Join(const std::vector<int>& v) {
  std::string out;
  for (int i : v) out += (out.empty() ? "" : ",") + std::to_string(i);
  return out;
}

std::string Category(const RunResult& r) {
  if (r.violations.empty()) return "";
  const std::string& v = r.violations.front();
  return v.substr(0, v.find(':'));
}

// Removes faults one at a time while the run still breaks the same promise.
std::vector<int> Shrink(const Scenario& base, std::vector<int> keep, const std::string& category,
                        const std::string& dir) {
  for (size_t i = 0; i < keep.size();) {
    std::vector<int> fewer = keep;
    fewer.erase(fewer.begin() + static_cast<long>(i));
    RunResult r = leaseq::sim::RunSimulation(leaseq::sim::WithFaults(base, fewer), dir);
    if (!r.ok() && Category(r) == category) {
      keep = fewer;
    } else {
      ++i;
    }
  }
  return keep;
}

void PrintFailure(const Scenario& base, const std::vector<int>& faults, int size, const std::string& dir,
                  bool shrink) {
  const Scenario full = leaseq::sim::WithFaults(base, faults);
  RunResult r = leaseq::sim::RunSimulation(full, dir);
  std::vector<int> kept = faults;
  if (shrink && !r.ok()) {
    kept = Shrink(base, faults, Category(r), dir);
    r = leaseq::sim::RunSimulation(leaseq::sim::WithFaults(base, kept), dir);
  }
  std::printf("seed %llu: %zu violation(s)\n", static_cast<unsigned long long>(base.seed), r.violations.size());
  for (size_t i = 0; i < r.violations.size() && i < 10; ++i) std::printf("  %s\n", r.violations[i].c_str());
  std::printf("faults that it needs (%zu of %zu):\n", kept.size(), base.faults.size());
  for (int i : kept) std::printf("  %s\n", leaseq::sim::DescribeFault(base.faults[i]).c_str());
  std::printf("trace (last 80 events):\n");
  const size_t from = r.trace.size() > 80 ? r.trace.size() - 80 : 0;
  for (size_t i = from; i < r.trace.size(); ++i) std::printf("  %s\n", r.trace[i].c_str());
  std::printf("replay: leaseq-sim --seed %llu%s --faults %s --trace\n",
              static_cast<unsigned long long>(base.seed),
              size == 1 ? "" : (" --size " + std::to_string(size)).c_str(), Join(kept).c_str());
}

// The work directory holds the last run's database: kept after a failure
// (for sqlite3), removed after a success.
void RemoveWorkDir(const std::string& dir) {
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((dir + "/leaseq.db" + suffix).c_str());
  rmdir(dir.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"leaseq-sim: the whole cluster on simulated time, driven by a seed"};
  uint64_t seed = 0, first = 1;
  int64_t seeds = 0;
  double seconds = 0;
  int size = 1;
  std::string faults_text, dir;
  bool trace = false, verbose = false, no_shrink = false, twice = false, messages = false;
  auto* seed_opt = app.add_option("--seed", seed, "run this seed once");
  app.add_option("--first", first, "the first seed of a series (default 1)");
  app.add_option("--seeds", seeds, "run this many seeds from --first");
  app.add_option("--seconds", seconds, "run seeds from --first until this much real time has passed");
  app.add_option("--size", size, "scale of each run: tasks and faults (default 1)")->check(CLI::Range(1, 100));
  app.add_option("--faults", faults_text, "keep only these faults of the seed's schedule (e.g. 0,3,5)");
  app.add_option("--dir", dir, "work directory for the database (default: a new one under /tmp)");
  app.add_flag("--trace", trace, "print the run's trace (faults, process events, log lines)");
  app.add_flag("--verbose", verbose, "print the cores' log lines as they happen");
  app.add_flag("--messages", messages, "put every delivered message in the trace");
  app.add_flag("--no-shrink", no_shrink, "on a violation, do not look for fewer faults");
  app.add_flag("--twice", twice, "run each seed twice and check that the runs are equal");
  CLI11_PARSE(app, argc, argv);
  if (dir.empty()) {
    // Memory-backed when there is one: the runs fsync, and nothing here must survive.
    dir = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/leaseq-sim-") +
          std::to_string(getpid());
  }

  if (*seed_opt) {
    const Scenario base = leaseq::sim::MakeScenario(seed, size);
    std::vector<int> keep = AllFaults(base);
    if (!faults_text.empty()) {
      keep.clear();
      std::stringstream in(faults_text);
      std::string item;
      while (std::getline(in, item, ',')) keep.push_back(std::stoi(item));
    }
    const Scenario s = leaseq::sim::WithFaults(base, keep);
    leaseq::sim::RunOptions options;
    options.verbose = verbose;
    options.messages = messages;
    RunResult r = leaseq::sim::RunSimulation(s, dir, options);
    std::printf("seed %llu: %zu workers x %d slots, %zu tasks, %zu faults; %lld ms simulated, "
                "%lld deliveries, %lld passes; %d done, %d failed, %d attempts; digest %016llx\n",
                static_cast<unsigned long long>(seed), static_cast<size_t>(s.workers), s.slots,
                s.tasks.size(), s.faults.size(), static_cast<long long>(r.simulated_ms),
                static_cast<long long>(r.deliveries), static_cast<long long>(r.passes), r.tasks_done,
                r.tasks_failed, r.attempts, static_cast<unsigned long long>(r.digest));
    if (trace) {
      for (const auto& line : r.trace) std::printf("  %s\n", line.c_str());
    }
    if (r.ok()) {
      RemoveWorkDir(dir);
      return 0;
    }
    PrintFailure(base, keep, size, dir, !no_shrink);
    std::printf("database of the last run: %s/leaseq.db\n", dir.c_str());
    return 1;
  }

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (seeds <= 0 && seconds <= 0) seeds = 100;
  int64_t ran = 0;
  std::map<std::string, int64_t> faults_by_kind;
  for (uint64_t s = first;; ++s) {
    if (seeds > 0 && ran >= seeds) break;
    if (seconds > 0 && elapsed() >= seconds) break;
    const Scenario scenario = leaseq::sim::MakeScenario(s, size);
    for (const auto& f : scenario.faults) ++faults_by_kind[leaseq::sim::FaultKindName(f.kind)];
    RunResult r = leaseq::sim::RunSimulation(scenario, dir);
    ++ran;
    if (r.ok() && twice) {
      RunResult again = leaseq::sim::RunSimulation(scenario, dir);
      if (again.digest != r.digest || again.attempts != r.attempts) {
        r.violations.push_back("not deterministic: digest " + std::to_string(r.digest) + " then " +
                               std::to_string(again.digest));
      }
    }
    if (!r.ok()) {
      std::printf("seed %llu FAILED after %lld seeds (%.1f s)\n", static_cast<unsigned long long>(s),
                  static_cast<long long>(ran), elapsed());
      PrintFailure(scenario, AllFaults(scenario), size, dir, !no_shrink);
      std::printf("database of the last run: %s/leaseq.db\n", dir.c_str());
      return 1;
    }
  }
  RemoveWorkDir(dir);
  std::string kinds;
  for (const auto& [k, n] : faults_by_kind) kinds += " " + k + "=" + std::to_string(n);
  std::printf("%lld seeds from %llu passed in %.1f s (%.0f seeds/s); faults:%s\n", static_cast<long long>(ran),
              static_cast<unsigned long long>(first), elapsed(), ran / std::max(elapsed(), 1e-9), kinds.c_str());
  return 0;
}
