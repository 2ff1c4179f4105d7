#include "dag.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

namespace leaseq::chaos {

namespace {

// $1 log, $2 number, $3 sleep (seconds, "0" for none), $4 fail_until.
// The log lines: "KEY ATTEMPT start MS", "KEY ATTEMPT fail MS",
// "KEY ATTEMPT end MS RESULT"; each appended with one write (O_APPEND).
constexpr const char* kTaskScript =
    "echo \"$LEASEQ_TASK_KEY $LEASEQ_ATTEMPT start $(date +%s%3N)\" >> \"$1\"\n"
    "s=$2\n"
    "while read -r x; do s=$(( (s * 131 + x) % 1000000007 )); done\n"
    "[ \"$3\" = 0 ] || sleep \"$3\"\n"
    "if [ \"$LEASEQ_ATTEMPT\" -le \"$4\" ]; then\n"
    "  echo \"$LEASEQ_TASK_KEY $LEASEQ_ATTEMPT fail $(date +%s%3N)\" >> \"$1\"\n"
    "  echo \"planned failure of attempt $LEASEQ_ATTEMPT\" >&2\n"
    "  exit 3\n"
    "fi\n"
    "echo \"$LEASEQ_TASK_KEY $LEASEQ_ATTEMPT end $(date +%s%3N) $s\" >> \"$1\"\n"
    "echo \"$s\"\n";

// The poison kills its parent, which must be the worker; then it stops
// itself, so that it dies with the worker (PR_SET_PDEATHSIG) and leaves
// nothing behind. Were the worker not its parent, it would hang: the run
// would end with the task still running, which the checker reports.
constexpr const char* kPoisonScript =
    "echo \"$LEASEQ_TASK_KEY $LEASEQ_ATTEMPT start $(date +%s%3N) poison\" >> \"$1\"\n"
    "kill -9 $PPID\n"
    "kill -STOP $$\n"
    "exit 9\n";

std::string SleepArg(int ms) {
  if (ms <= 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d.%03d", ms / 1000, ms % 1000);
  return buf;
}

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t%06d", i);
  return buf;
}

int SleepMs(Rng& rng) {
  double p = rng.Unit();
  if (p < 0.55) return 0;
  if (p < 0.90) return static_cast<int>(rng.Uniform(5, 200));
  return static_cast<int>(rng.Uniform(300, 2000));
}

}  // namespace

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kNormal: return "normal";
    case Kind::kFlaky: return "flaky";
    case Kind::kDoomed: return "doomed";
    case Kind::kPoison: return "poison";
  }
  return "?";
}

bool ParseKind(const std::string& s, Kind* k) {
  for (Kind c : {Kind::kNormal, Kind::kFlaky, Kind::kDoomed, Kind::kPoison}) {
    if (s == KindName(c)) {
      *k = c;
      return true;
    }
  }
  return false;
}

std::vector<std::string> TaskArgv(const TaskDef& t, const std::string& log_path) {
  if (t.kind == Kind::kPoison) return {"sh", "-c", kPoisonScript, "chaos-poison", log_path};
  return {"sh", "-c", kTaskScript, "chaos-task", log_path, std::to_string(t.num),
          SleepArg(t.sleep_ms), std::to_string(t.fail_until)};
}

std::string SubmitLine(const TaskDef& t, const std::string& log_path) {
  nlohmann::json j = {{"key", t.key},         {"cmd", TaskArgv(t, log_path)},
                      {"input", t.input},     {"after", t.after},
                      {"retries", t.retries}, {"priority", t.priority}};
  return j.dump();
}

nlohmann::json ToJson(const TaskDef& t) {
  return {{"key", t.key},         {"num", t.num},           {"kind", KindName(t.kind)},
          {"fail_until", t.fail_until}, {"retries", t.retries}, {"priority", t.priority},
          {"sleep_ms", t.sleep_ms},     {"input", t.input},     {"after", t.after},
          {"batch", t.batch}};
}

TaskDef FromJson(const nlohmann::json& j) {
  TaskDef t;
  t.key = j.at("key").get<std::string>();
  t.num = j.at("num").get<int64_t>();
  if (!ParseKind(j.at("kind").get<std::string>(), &t.kind)) {
    throw std::runtime_error("unknown kind in manifest: " + j.at("kind").dump());
  }
  t.fail_until = j.at("fail_until").get<int>();
  t.retries = j.at("retries").get<int>();
  t.priority = j.at("priority").get<int>();
  t.sleep_ms = j.at("sleep_ms").get<int>();
  t.input = j.at("input").get<std::string>();
  t.after = j.at("after").get<std::vector<std::string>>();
  t.batch = j.at("batch").get<std::string>();
  return t;
}

int64_t Fold(int64_t num, const std::string& stdin_text) {
  int64_t s = num;
  std::istringstream in(stdin_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;  // sh: $((... + )) of an empty line would be an error anyway
    s = (s * 131 + std::stoll(line)) % kResultModulus;
  }
  return s;
}

std::string ResultText(int64_t value) { return std::to_string(value) + "\n"; }

std::vector<TaskDef> GenerateMainDag(uint64_t seed, const DagOptions& opt) {
  Rng rng(seed);
  const int n = std::max(1, opt.tasks);
  std::vector<TaskDef> tasks(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    TaskDef& t = tasks[static_cast<size_t>(i)];
    t.key = Key(i);
    t.num = i + 1;
    char wave[32];
    std::snprintf(wave, sizeof wave, "wave-%04d", i / std::max(1, opt.wave_size));
    t.batch = wave;
  }
  auto link = [&](int task, int dep) {
    auto& after = tasks[static_cast<size_t>(task)].after;
    const std::string& k = tasks[static_cast<size_t>(dep)].key;
    if (std::find(after.begin(), after.end(), k) == after.end()) after.push_back(k);
  };
  // A recent earlier task (dependencies mostly local, sometimes far back).
  auto earlier = [&](int i) {
    if (rng.Chance(0.8)) return static_cast<int>(rng.Uniform(std::max(0, i - 300), i - 1));
    return static_cast<int>(rng.Uniform(0, i - 1));
  };
  int i = 0;
  while (i < n) {
    const int left = n - i;
    const double shape = rng.Unit();
    if (shape < 0.20 && left >= 3) {  // chain
      int len = static_cast<int>(std::min<int64_t>(left, rng.Uniform(3, 12)));
      if (i > 0 && rng.Chance(0.5)) link(i, earlier(i));
      for (int k = 1; k < len; ++k) link(i + k, i + k - 1);
      i += len;
    } else if (shape < 0.35 && left >= 4) {  // fan-out
      int len = static_cast<int>(std::min<int64_t>(left, rng.Uniform(4, 21)));
      if (i > 0 && rng.Chance(0.3)) link(i, earlier(i));
      for (int k = 1; k < len; ++k) link(i + k, i);
      i += len;
    } else if (shape < 0.50 && left >= 4) {  // fan-in: sources, then a sink after all (shuffled)
      int len = static_cast<int>(std::min<int64_t>(left, rng.Uniform(4, 21)));
      std::vector<int> srcs;
      for (int k = 0; k < len - 1; ++k) srcs.push_back(i + k);
      for (size_t k = srcs.size(); k > 1; --k) std::swap(srcs[k - 1], srcs[rng.Uniform(0, static_cast<int64_t>(k) - 1)]);
      for (int s : srcs) link(i + len - 1, s);
      i += len;
    } else if (shape < 0.62 && left >= 4) {  // diamond: root, middle, sink
      int len = static_cast<int>(std::min<int64_t>(left, rng.Uniform(4, 12)));
      for (int k = 1; k < len - 1; ++k) link(i + k, i);
      for (int k = 1; k < len - 1; ++k) link(i + len - 1, i + k);
      i += len;
    } else {  // a single task with 0-3 random earlier dependencies
      if (i > 0) {
        int deps = static_cast<int>(rng.Uniform(0, 3));
        for (int k = 0; k < deps; ++k) link(i, earlier(i));
      }
      i += 1;
    }
  }
  for (auto& t : tasks) {
    t.sleep_ms = SleepMs(rng);
    t.priority = rng.Chance(0.2) ? static_cast<int>(rng.Uniform(1, 3)) : 0;
    if (rng.Chance(0.25)) t.input = std::to_string(rng.Uniform(0, 999)) + "\n";
    if (rng.Chance(0.08)) {
      t.kind = Kind::kFlaky;
      t.fail_until = static_cast<int>(rng.Uniform(1, 2));
      t.retries = 2;
    } else if (rng.Chance(0.1)) {
      t.retries = static_cast<int>(rng.Uniform(1, 3));  // retries it will not need
    }
  }
  // Doomed and poison tasks at distinct places, not among the first 20 (the
  // run starts with some work that will certainly succeed).
  const int doomed = opt.doomed >= 0 ? opt.doomed : std::max(3, n / 300);
  const int poison = opt.poison >= 0 ? opt.poison : std::max(2, std::min(n / 1000, 30));
  std::set<int> used;
  auto pick = [&]() {
    const int lo = n > 40 ? 20 : 0;
    for (int tries = 0; tries < 1000; ++tries) {
      int c = static_cast<int>(rng.Uniform(lo, n - 1));
      if (used.insert(c).second) return c;
    }
    return -1;
  };
  for (int k = 0; k < doomed && static_cast<int>(used.size()) < n; ++k) {
    int c = pick();
    if (c < 0) break;
    TaskDef& t = tasks[static_cast<size_t>(c)];
    t.kind = Kind::kDoomed;
    t.fail_until = kAlways;
    t.retries = static_cast<int>(rng.Uniform(0, 2));
  }
  for (int k = 0; k < poison && static_cast<int>(used.size()) < n; ++k) {
    int c = pick();
    if (c < 0) break;
    TaskDef& t = tasks[static_cast<size_t>(c)];
    t.kind = Kind::kPoison;
    t.fail_until = 0;
    t.retries = 0;
    t.sleep_ms = 0;
  }
  return tasks;
}

std::vector<TaskDef> GenerateClientBatch(Rng& rng, int index, const std::vector<TaskDef>& main,
                                         int available) {
  const int size = static_cast<int>(rng.Uniform(1, 40));
  std::vector<TaskDef> batch;
  char batch_name[32];
  std::snprintf(batch_name, sizeof batch_name, "client-%04d", index);
  for (int k = 0; k < size; ++k) {
    TaskDef t;
    char key[48];
    std::snprintf(key, sizeof key, "c%04d-%02d", index, k);
    t.key = key;
    t.num = 1000000 + index * 100 + k;
    t.batch = batch_name;
    t.sleep_ms = SleepMs(rng);
    if (rng.Chance(0.15)) {
      t.kind = Kind::kFlaky;
      t.fail_until = 1;
      t.retries = 1;
    }
    if (rng.Chance(0.3)) t.input = std::to_string(rng.Uniform(0, 999)) + "\n";
    const int deps = static_cast<int>(rng.Uniform(0, 2));
    for (int d = 0; d < deps && available > 0; ++d) {
      const std::string& dep = main[static_cast<size_t>(rng.Uniform(0, available - 1))].key;
      if (std::find(t.after.begin(), t.after.end(), dep) == t.after.end()) t.after.push_back(dep);
    }
    if (k > 0 && rng.Chance(0.4)) t.after.push_back(batch[static_cast<size_t>(rng.Uniform(0, k - 1))].key);
    batch.push_back(std::move(t));
  }
  return batch;
}

}  // namespace leaseq::chaos
