// The work of a chaos run: a DAG of shell tasks generated from the seed, and
// what each task must produce. Every task appends lines to the side-effect
// log and prints a number computed from its own number, its input and the
// results of its dependencies (in the order of `after`), so the checker can
// recompute every result.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rng.h"

namespace leaseq::chaos {

enum class Kind {
  kNormal,  // succeeds
  kFlaky,   // fails its first attempts (LEASEQ_ATTEMPT <= fail_until), then succeeds
  kDoomed,  // always fails: ends failed once its retries are used up
  kPoison,  // `kill -9 $PPID`: kills every worker that runs it
};
const char* KindName(Kind k);
bool ParseKind(const std::string& s, Kind* k);

// The modulus of the result arithmetic.
inline constexpr int64_t kResultModulus = 1000000007;
// A doomed task's fail_until: every attempt fails.
inline constexpr int kAlways = 1000000;

struct TaskDef {
  std::string key;
  int64_t num = 0;
  Kind kind = Kind::kNormal;
  int fail_until = 0;  // attempts numbered <= this exit 3
  int retries = 0;
  int priority = 0;
  int sleep_ms = 0;
  std::string input;               // "" or "<number>\n"
  std::vector<std::string> after;  // dependencies, in order
  std::string batch;               // "wave-0003" (must be stored) or "client-0007" (all or nothing)
};

// The argv of a task (sh -c SCRIPT ... with the side-effect log path).
std::vector<std::string> TaskArgv(const TaskDef& t, const std::string& log_path);
// One line of a leaseq-submit --file, without the newline.
std::string SubmitLine(const TaskDef& t, const std::string& log_path);
// The manifest (what the checker knows of a task): JSON, and back.
nlohmann::json ToJson(const TaskDef& t);
TaskDef FromJson(const nlohmann::json& j);

// The result a task prints: its number, then for every line of its stdin
// (its input, then its dependencies' results) s = (s * 131 + x) mod p.
int64_t Fold(int64_t num, const std::string& stdin_text);
std::string ResultText(int64_t value);  // "<value>\n", as the task prints it

struct DagOptions {
  int tasks = 3000;
  int wave_size = 200;
  int poison = -1;  // -1: a default from the size
  int doomed = -1;
};

// The main DAG, numbered 0..n-1, keys "t000042"; waves of wave_size tasks in
// order; a dependency always points to a lower number (an earlier or the
// same wave). Shapes: chains, fan-out, fan-in, diamonds and random links.
std::vector<TaskDef> GenerateMainDag(uint64_t seed, const DagOptions& opt);

// A small batch for the client-kill fault: keys "c0007-03", depending on
// each other and on main tasks among the first `available` ones.
std::vector<TaskDef> GenerateClientBatch(Rng& rng, int index, const std::vector<TaskDef>& main,
                                         int available);

}  // namespace leaseq::chaos
