#include "checker.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "dag.h"
#include "process.h"
#include "workdir.h"

namespace leaseq::chaos {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kExamplesKept = 20;
// A fault shortly before an attempt was leased may still explain its loss:
// the broker leased it to a worker it did not know was dead or frozen yet.
// It learns within the lease TTL (heartbeat x liveness), or at once from the
// nanny; this margin covers the rest.
constexpr int64_t kPhantomMarginMs = 1000;
// A worker hands a task back only when it drains (or is over its credit):
// more often than this for one task is a lease/release storm, not chance.
constexpr int kMaxReleasesByOneWorker = 10;

struct DbTask {
  int64_t id = 0;
  std::string key, state, cmd, error;
  std::string input;
  int64_t suspicious = 0, deaths = 0, errors = 0, retries = 0, priority = 0, attempts_count = 0;
  int64_t failed_dep = -1;
  bool has_result = false;
  std::string result;
};

struct DbAttempt {
  int64_t id = 0, task_id = 0, attempt_no = 0, started_at = 0;
  std::optional<int64_t> ended_at;
  std::string task_key, worker, outcome, error;
  std::string blame;  // of a lost attempt: suspected, death, withdrawn
  std::optional<int64_t> exit_code;
};

struct Execution {
  int starts = 0;
  int64_t start_ms = -1, end_ms = -1, fail_ms = -1;
  bool poison = false;
  std::string value;  // printed in the end line
};

struct Fault {
  int64_t t = 0, end = 0;
  std::string kind, target;
  int64_t pid = 0;
  bool skipped = false;
  bool keys_printed = false, resubmit = false;  // client-kill
};

// A worker event that may explain the loss of an attempt on that worker.
struct WorkerEvent {
  int64_t from = 0, to = 0;
  enum Type { kKilled, kStopped, kDrained } type = kKilled;
  std::string what;
};

std::string Ms(int64_t t, int64_t base) {
  std::ostringstream s;
  s << "t+" << (t - base) << "ms";
  return s.str();
}

std::string Quote(const std::string& s, size_t max = 160) {
  std::string t = s.size() > max ? s.substr(0, max) + "..." : s;
  for (char& c : t) {
    if (c == '\n') c = ' ';
  }
  return "'" + t + "'";
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

class Checker {
 public:
  Checker(std::string dir, CheckReport* r) : dir_(std::move(dir)), r_(*r) {}

  void Run() {
    if (!LoadRun() || !LoadManifest()) return;
    LoadFaults();
    LoadFindings();
    LoadLog();
    LoadStalls();
    if (!LoadDb()) return;
    CheckDatabase();
    CheckPresence();
    CheckTasks();
    CheckLog();
    CheckLosses();
    CheckWorkers();
    CheckWorkerDeaths();
  }

 private:
  std::string Path(const char* name) const { return dir_ + "/" + name; }

  bool LoadRun() {
    try {
      json j = json::parse(ReadFile(Path(files::kRun)));
      r_.seed = j.at("seed").get<uint64_t>();
      r_.seconds = j.at("seconds").get<int>();
      r_.workers = j.at("workers").get<int>();
      r_.slots = j.at("slots").get<int>();
      r_.heartbeat_ms = j.at("heartbeat_ms").get<int>();
      r_.liveness = j.at("liveness").get<int>();
      r_.allowed_failures = j.at("allowed_failures").get<int>();
      log_path_ = j.at("side_effect_log").get<std::string>();
      drain_ms_ = j.value("drain_timeout_ms", 25000);
      r_.window_start_ms = j.value("window_start_ms", int64_t{0});
      r_.window_end_ms = j.value("window_end_ms", int64_t{0});
      r_.run_end_ms = j.value("run_end_ms", int64_t{0});
      base_ = r_.window_start_ms;
      return true;
    } catch (const std::exception& e) {
      r_.Violation("unreadable work dir", std::string(files::kRun) + ": " + e.what());
      return false;
    }
  }

  bool LoadManifest() {
    int line_no = 0;
    for (const auto& line : ReadLines(Path(files::kManifest))) {
      ++line_no;
      try {
        TaskDef t = FromJson(json::parse(line));
        if (manifest_.count(t.key) != 0) {
          r_.Violation("unreadable work dir", "manifest line " + std::to_string(line_no) +
                                                  ": key " + t.key + " twice");
          continue;
        }
        order_.push_back(t.key);
        manifest_[t.key] = std::move(t);
      } catch (const std::exception& e) {
        r_.Violation("unreadable work dir",
                     "manifest line " + std::to_string(line_no) + ": " + e.what());
      }
    }
    r_.manifest_tasks = static_cast<int>(manifest_.size());
    return true;
  }

  void LoadFaults() {
    for (const auto& line : ReadLines(Path(files::kFaults))) {
      try {
        json j = json::parse(line);
        Fault f;
        f.t = j.at("t").get<int64_t>();
        f.end = j.value("end", f.t);
        f.kind = j.at("kind").get<std::string>();
        f.target = j.value("target", std::string());
        f.pid = j.value("pid", int64_t{0});
        f.skipped = j.contains("skipped");
        f.keys_printed = j.value("keys_printed", false);
        f.resubmit = j.value("resubmit", false);
        faults_.push_back(f);
        if (f.kind == files::kWorkerCont || f.kind == files::kBrokerStart) continue;
        if (f.skipped) {
          r_.skipped[f.kind]++;
        } else {
          r_.faults[f.kind]++;
        }
      } catch (const std::exception& e) {
        r_.Violation("unreadable work dir", std::string(files::kFaults) + ": " + e.what());
      }
    }
    // A stop ends at the matching cont (by pid), else at its planned end.
    for (auto& f : faults_) {
      if (f.kind != files::kWorkerStop || f.skipped) continue;
      for (const auto& c : faults_) {
        if (c.kind == files::kWorkerCont && c.pid == f.pid && c.t >= f.t) {
          f.end = c.t;
          break;
        }
      }
    }
  }

  // What the runner itself saw go wrong: each line one violation.
  void LoadFindings() {
    for (const auto& line : ReadLines(Path(files::kFindings))) {
      try {
        json j = json::parse(line);
        const std::string what = j.at("what").get<std::string>();
        const std::string detail = j.value("detail", std::string());
        if (j.value("violation", true)) {
          r_.Violation(what, detail);
        } else {
          r_.Note(what, detail);
        }
      } catch (const std::exception& e) {
        r_.Violation("unreadable work dir", std::string(files::kFindings) + ": " + e.what());
      }
    }
  }

  void LoadStalls() {
    for (const auto& line : ReadLines(Path(files::kStalls))) {
      try {
        json j = json::parse(line);
        stalls_.push_back({j.at("from").get<int64_t>(), j.at("to").get<int64_t>()});
        r_.stalls++;
        r_.longest_stall_ms = std::max(r_.longest_stall_ms, stalls_.back().second - stalls_.back().first);
      } catch (const std::exception& e) {
        r_.Violation("unreadable work dir", std::string(files::kStalls) + ": " + e.what());
      }
    }
  }

  // A stall of the machine in the lease TTL before the loss.
  const std::pair<int64_t, int64_t>* StallBefore(int64_t lost_at) const {
    const int64_t ttl = static_cast<int64_t>(r_.heartbeat_ms) * r_.liveness;
    for (const auto& s : stalls_) {
      if (s.first <= lost_at && s.second >= lost_at - ttl - kPhantomMarginMs) return &s;
    }
    return nullptr;
  }

  void LoadLog() {
    for (const auto& line : ReadLines(Path(files::kSideEffects))) {
      std::istringstream in(line);
      std::string key, event, extra;
      int64_t attempt = 0, ms = 0;
      in >> key >> attempt >> event >> ms;
      if (!in || (event != "start" && event != "end" && event != "fail")) {
        r_.Violation("side-effect log", "malformed line " + Quote(line));
        continue;
      }
      in >> extra;
      Execution& e = log_[{key, attempt}];
      if (event == "start") {
        e.starts++;
        e.start_ms = e.start_ms < 0 ? ms : std::min(e.start_ms, ms);
        if (extra == "poison") e.poison = true;
      } else if (event == "end") {
        e.end_ms = ms;
        e.value = extra;
      } else {
        e.fail_ms = ms;
      }
    }
  }

  bool LoadDb() {
    const std::string db_path = Path(files::kDb);
    try {
      SQLite::Database db(db_path, SQLite::OPEN_READONLY);
      db.setBusyTimeout(10000);
      {
        SQLite::Statement q(db, "PRAGMA integrity_check");
        std::string all;
        while (q.executeStep()) all += (all.empty() ? "" : "; ") + q.getColumn(0).getString();
        if (all != "ok") r_.Violation("PRAGMA integrity_check", all);
      }
      {
        SQLite::Statement q(db, "PRAGMA foreign_key_check");
        int n = 0;
        while (q.executeStep()) ++n;
        if (n > 0) r_.Violation("PRAGMA foreign_key_check", std::to_string(n) + " dangling reference(s)");
      }
      SQLite::Statement tq(db,
                           "SELECT id, key, state, suspicious, errors, retries, priority, "
                           "attempts_count, failed_dep, result, error, cmd, input, deaths FROM tasks");
      while (tq.executeStep()) {
        DbTask t;
        t.id = tq.getColumn(0).getInt64();
        t.key = tq.getColumn(1).getString();
        t.state = tq.getColumn(2).getString();
        t.suspicious = tq.getColumn(3).getInt64();
        t.errors = tq.getColumn(4).getInt64();
        t.retries = tq.getColumn(5).getInt64();
        t.priority = tq.getColumn(6).getInt64();
        t.attempts_count = tq.getColumn(7).getInt64();
        if (!tq.getColumn(8).isNull()) t.failed_dep = tq.getColumn(8).getInt64();
        if (!tq.getColumn(9).isNull()) {
          t.has_result = true;
          const auto& c = tq.getColumn(9);
          t.result.assign(static_cast<const char*>(c.getBlob()), static_cast<size_t>(c.getBytes()));
        }
        if (!tq.getColumn(10).isNull()) t.error = tq.getColumn(10).getString();
        if (!tq.getColumn(11).isNull()) t.cmd = tq.getColumn(11).getString();
        const auto& in = tq.getColumn(12);
        t.input.assign(static_cast<const char*>(in.getBlob()), static_cast<size_t>(in.getBytes()));
        t.deaths = tq.getColumn(13).getInt64();
        by_id_[t.id] = t.key;
        tasks_[t.key] = std::move(t);
      }
      SQLite::Statement dq(db, "SELECT task_id, pos, dep_id FROM task_deps ORDER BY task_id, pos");
      while (dq.executeStep()) {
        deps_[dq.getColumn(0).getInt64()].push_back(dq.getColumn(2).getInt64());
      }
      SQLite::Statement aq(db,
                           "SELECT id, task_id, task_key, attempt_no, worker, started_at, ended_at, "
                           "outcome, exit_code, error, blame FROM attempts ORDER BY id");
      while (aq.executeStep()) {
        DbAttempt a;
        a.id = aq.getColumn(0).getInt64();
        a.task_id = aq.getColumn(1).getInt64();
        a.task_key = aq.getColumn(2).getString();
        a.attempt_no = aq.getColumn(3).getInt64();
        a.worker = aq.getColumn(4).getString();
        a.started_at = aq.getColumn(5).getInt64();
        if (!aq.getColumn(6).isNull()) a.ended_at = aq.getColumn(6).getInt64();
        a.outcome = aq.getColumn(7).getString();
        if (!aq.getColumn(8).isNull()) a.exit_code = aq.getColumn(8).getInt64();
        if (!aq.getColumn(9).isNull()) a.error = aq.getColumn(9).getString();
        if (!aq.getColumn(10).isNull()) a.blame = aq.getColumn(10).getString();
        if (a.outcome == "lost") r_.blame[a.blame.empty() ? "none" : a.blame]++;
        attempts_[a.task_id].push_back(a);
        r_.attempts++;
        r_.outcomes[a.outcome]++;
      }
      // The status counters kept by triggers must match the rows.
      SQLite::Statement cq(db,
                           "SELECT c.state, c.n, (SELECT count(*) FROM tasks t WHERE t.state = "
                           "c.state) FROM task_state_counts c");
      while (cq.executeStep()) {
        if (cq.getColumn(1).getInt64() != cq.getColumn(2).getInt64()) {
          r_.Violation("task_state_counts",
                       cq.getColumn(0).getString() + ": counter " + cq.getColumn(1).getString() +
                           ", rows " + cq.getColumn(2).getString());
        }
      }
      SQLite::Statement wq(db, "SELECT name, state FROM workers");
      while (wq.executeStep()) workers_[wq.getColumn(0).getString()] = wq.getColumn(1).getString();
    } catch (const std::exception& e) {
      r_.Violation("unreadable database", db_path + ": " + e.what());
      return false;
    }
    r_.db_tasks = static_cast<int>(tasks_.size());
    for (const auto& [key, t] : tasks_) r_.states[t.state]++;
    return true;
  }

  void CheckDatabase() {
    for (const auto& [key, t] : tasks_) {
      if (manifest_.count(key) == 0) r_.Violation("unknown task in the database", key);
    }
  }

  // Acknowledged keys are stored; a batch is stored entirely or not at all.
  void CheckPresence() {
    std::set<std::string> acked;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ + "/" + files::kSubmits, ec)) {
      if (entry.path().extension() != ".keys") continue;
      for (const auto& k : ReadLines(entry.path().string())) acked.insert(k);
    }
    r_.acked_keys = static_cast<int>(acked.size());
    for (const auto& k : acked) {
      if (tasks_.count(k) == 0) {
        r_.Violation("acknowledged task missing", k + " (printed by leaseq-submit, not in the database)");
      }
    }
    std::map<std::string, std::pair<int, int>> batches;  // batch -> (present, total)
    for (const auto& [key, t] : manifest_) {
      auto& b = batches[t.batch];
      b.second++;
      if (tasks_.count(key) != 0) b.first++;
    }
    for (const auto& f : faults_) {
      if (f.kind != files::kClientKill || f.skipped) continue;
      r_.clients_killed++;
      const auto& b = batches[f.target];
      if (f.keys_printed) {
        r_.clients_killed_printed++;
      } else if (f.resubmit) {
        r_.clients_killed_resubmitted++;
      } else if (b.first > 0) {
        r_.clients_killed_stored++;
      } else {
        r_.clients_killed_absent++;
      }
    }
    for (const auto& [batch, b] : batches) {
      const bool client = batch.rfind("client-", 0) == 0;
      if (b.first != 0 && b.first != b.second) {
        r_.Violation("partially stored submission", batch + ": " + std::to_string(b.first) + " of " +
                                                        std::to_string(b.second) + " tasks stored");
      }
      if (!client && b.first == 0) {
        // A wave is retried until acknowledged; the runner reports a wave it gave up on.
        r_.Note("wave not stored", batch);
      }
    }
  }

  const DbTask* Dep(int64_t id) const {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return nullptr;
    return &tasks_.at(it->second);
  }

  // The done attempt of a task, or nullptr.
  const DbAttempt* DoneAttempt(const DbTask& t) const {
    auto it = attempts_.find(t.id);
    if (it == attempts_.end()) return nullptr;
    for (const auto& a : it->second) {
      if (a.outcome == "done") return &a;
    }
    return nullptr;
  }

  void CheckTasks() {
    const int64_t allowed = r_.allowed_failures;
    for (const auto& key : order_) {
      auto it = tasks_.find(key);
      if (it == tasks_.end()) continue;  // absent batch (checked above)
      const TaskDef& def = manifest_.at(key);
      const DbTask& t = it->second;
      static const std::vector<DbAttempt> kNone;
      const auto ait = attempts_.find(t.id);
      const std::vector<DbAttempt>& at = ait == attempts_.end() ? kNone : ait->second;

      // Stored as submitted.
      std::vector<std::string> stored_after;
      for (int64_t d : deps_[t.id]) {
        const DbTask* dt = Dep(d);
        stored_after.push_back(dt != nullptr ? dt->key : "#" + std::to_string(d));
      }
      if (stored_after != def.after) {
        r_.Violation("stored differently from submitted",
                     key + ": after [" + Join(stored_after) + "], submitted [" + Join(def.after) + "]");
      }
      if (t.input != def.input || t.retries != def.retries || t.priority != def.priority) {
        r_.Violation("stored differently from submitted", key + ": input/retries/priority differ");
      }
      json cmd = json::parse(t.cmd, nullptr, false);
      if (cmd != json(TaskArgv(def, log_path_))) {
        r_.Violation("stored differently from submitted", key + ": cmd " + Quote(t.cmd, 80));
      }

      // Terminal.
      if (t.state != "done" && t.state != "failed" && t.state != "cancelled") {
        std::string last = at.empty() ? "no attempt" : "last attempt #" + std::to_string(at.back().attempt_no) +
                                                           " on " + at.back().worker + " " + at.back().outcome;
        r_.Violation("task not terminal at the end", key + " is " + t.state + " (" + last + ")");
      }
      if (t.state == "cancelled") r_.Violation("unexpected state", key + " is cancelled (nobody cancelled it)");

      // Attempts: numbered 1..n, one at a time, all ended.
      int done = 0, lost = 0, errors = 0, deaths = 0;
      for (size_t i = 0; i < at.size(); ++i) {
        const DbAttempt& a = at[i];
        if (a.attempt_no != static_cast<int64_t>(i) + 1) {
          r_.Violation("attempt numbering", key + ": attempt row " + std::to_string(i + 1) +
                                                " has attempt_no " + std::to_string(a.attempt_no));
        }
        if (a.outcome == "running" || !a.ended_at) {
          r_.Violation("attempt still running at the end",
                       key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " (task " + t.state + ")");
        } else if (*a.ended_at < a.started_at) {
          r_.Violation("attempt ends before it starts", key + " #" + std::to_string(a.attempt_no));
        }
        if (i > 0 && at[i - 1].ended_at && a.started_at < *at[i - 1].ended_at) {
          r_.Violation("overlapping attempts (two leases at once)",
                       key + ": #" + std::to_string(a.attempt_no) + " started " +
                           Ms(a.started_at, base_) + " before #" + std::to_string(at[i - 1].attempt_no) +
                           " ended " + Ms(*at[i - 1].ended_at, base_));
        }
        if (a.outcome == "done") ++done;
        // Suspicion counts the losses not withdrawn (their worker did not
        // come back), deaths those whose worker is known dead.
        if (a.outcome == "lost" && a.blame != "withdrawn") ++lost;
        if (a.outcome == "lost" && a.blame == "death") ++deaths;
        if (a.outcome == "lost" && a.blame.empty()) {
          r_.Violation("lost attempt without blame", key + " #" + std::to_string(a.attempt_no));
        }
        if (a.outcome == "error") {
          ++errors;
          // The only errors are planned ones: exit status 3 of a numbered attempt.
          const bool planned = a.attempt_no <= def.fail_until && a.exit_code && *a.exit_code == 3;
          if (!planned) {
            r_.Violation("unexpected failed attempt",
                         key + " (" + KindName(def.kind) + ") #" + std::to_string(a.attempt_no) + " on " +
                             a.worker + ": " + Quote(a.error));
          }
        }
      }
      // A task handed back over and over by one worker: the broker kept
      // leasing it to a worker that would not run it (a lease/release storm).
      {
        std::map<std::string, int> released;
        for (const auto& a : at) {
          if (a.outcome == "released" && ++released[a.worker] == kMaxReleasesByOneWorker + 1) {
            r_.Violation("released again and again by one worker",
                         key + ": more than " + std::to_string(kMaxReleasesByOneWorker) + " attempts on " +
                             a.worker + " released");
          }
        }
      }
      if (static_cast<int64_t>(at.size()) != t.attempts_count) {
        r_.Violation("attempt numbering", key + ": attempts_count " + std::to_string(t.attempts_count) +
                                              " but " + std::to_string(at.size()) + " attempt rows");
      }
      if (t.state == "done") {
        if (done != 1) {
          r_.Violation("done task without exactly one done attempt",
                       key + " has " + std::to_string(done) + " done attempts");
        } else if (at.back().outcome != "done") {
          r_.Violation("attempt after completion", key + ": attempt #" +
                                                       std::to_string(at.back().attempt_no) + " after the done one");
        }
      } else if (done != 0) {
        r_.Violation("done attempt of a task not done", key + " is " + t.state + " with a done attempt");
      }
      if (t.suspicious != lost) {
        r_.Violation("suspicious differs from the lost attempts",
                     key + ": suspicious " + std::to_string(t.suspicious) + ", lost attempts not withdrawn " +
                         std::to_string(lost));
      }
      if (t.deaths != deaths) {
        r_.Violation("deaths differ from the lost attempts blamed as deaths",
                     key + ": deaths " + std::to_string(t.deaths) + ", lost attempts blamed as deaths " +
                         std::to_string(deaths));
      }
      if (t.errors != errors) {
        r_.Violation("errors differ from the failed attempts",
                     key + ": errors " + std::to_string(t.errors) + ", error attempts " + std::to_string(errors));
      }
      if (!at.empty()) r_.reexecutions += static_cast<int>(at.size()) - 1;
      for (size_t i = 0; i + 1 < at.size(); ++i) r_.reexec_by_cause[at[i].outcome]++;

      // Dependencies: every attempt leased after all of them were done.
      bool deps_done = true;
      const DbTask* failed_dep = nullptr;
      std::string stdin_text = t.input;
      for (int64_t d : deps_[t.id]) {
        const DbTask* dt = Dep(d);
        if (dt == nullptr) continue;
        if (dt->state != "done") {
          deps_done = false;
          if (dt->state == "failed" || dt->state == "cancelled") failed_dep = dt;
          for (const auto& a : at) {
            r_.Violation("started before its dependencies were done",
                         key + " #" + std::to_string(a.attempt_no) + " leased though " + dt->key + " is " + dt->state);
          }
          continue;
        }
        stdin_text += dt->result;
        const DbAttempt* da = DoneAttempt(*dt);
        if (da == nullptr || !da->ended_at) continue;  // reported for the dependency
        for (const auto& a : at) {
          if (a.started_at < *da->ended_at) {
            r_.Violation("started before its dependencies were done",
                         key + " #" + std::to_string(a.attempt_no) + " leased " + Ms(a.started_at, base_) +
                             ", dependency " + dt->key + " done " + Ms(*da->ended_at, base_));
          }
        }
      }

      // The final state each kind of task must reach.
      // Failed for its deaths: allowed + 1 of them when it failed (more may
      // be confirmed after), whatever ended its last attempt.
      const bool suspicion_failure = t.state == "failed" && t.deaths >= allowed + 1 &&
                                     t.error.find("probably kills its worker") != std::string::npos;
      if (!deps_done) {
        if (t.state != "failed") {
          r_.Violation("dependent of a failed task not failed",
                       key + " is " + t.state + " though a dependency is not done");
        } else if (failed_dep == nullptr) {
          r_.Violation("dependent of a failed task not failed", key + " failed but no dependency failed");
        } else {
          const DbTask* named = Dep(t.failed_dep);
          if (named == nullptr || (named->state != "failed" && named->state != "cancelled") ||
              t.error.find(named->key) == std::string::npos) {
            r_.Violation("dependent of a failed task not failed",
                         key + ": failed_dep/error do not name a failed dependency: " + Quote(t.error));
          }
          r_.failed_by_dependency++;
        }
      } else if (def.kind == Kind::kPoison) {
        if (!suspicion_failure || errors != 0) {
          r_.Violation("poison task not failed by suspicion",
                       key + " is " + t.state + " with deaths " + std::to_string(t.deaths) +
                           " (expected failed with " + std::to_string(allowed + 1) + "), " +
                           std::to_string(errors) + " error attempt(s); error " + Quote(t.error));
        } else {
          r_.failed_poison++;
        }
      } else if (def.kind == Kind::kDoomed) {
        const bool by_errors = t.state == "failed" && errors == def.retries + 1 && !at.empty() &&
                               at.back().outcome == "error";
        if (!by_errors && !suspicion_failure) {
          r_.Violation("doomed task did not fail as it should",
                       key + " is " + t.state + ", " + std::to_string(errors) + " error attempt(s) for retries " +
                           std::to_string(def.retries) + ", suspicious " + std::to_string(t.suspicious));
        } else if (suspicion_failure) {
          r_.failed_collateral++;
        } else {
          r_.failed_doomed++;
        }
      } else if (t.state != "done") {
        if (suspicion_failure) {
          r_.failed_collateral++;
          r_.Note("task failed: it was on " + std::to_string(allowed + 1) + " workers that died",
                  key + " (" + KindName(def.kind) + ")");
        } else if (t.state == "failed") {
          r_.Violation("task failed unexpectedly",
                       key + " (" + KindName(def.kind) + "): suspicious " + std::to_string(t.suspicious) +
                           ", errors " + std::to_string(t.errors) + ": " + Quote(t.error));
        }
      }

      // The result: recomputed from the number, the input and the results of
      // the dependencies as stored.
      if (t.state == "done") {
        const std::string expected = ResultText(Fold(def.num, stdin_text));
        if (!t.has_result || t.result != expected) {
          r_.Violation("wrong result", key + ": " + Quote(t.result, 40) + ", expected " + Quote(expected, 40));
        }
      }
    }
  }

  // The side-effect log against the attempts.
  void CheckLog() {
    std::map<std::pair<std::string, int64_t>, const DbAttempt*> by_key_no;
    for (const auto& [task_id, at] : attempts_) {
      for (const auto& a : at) by_key_no[{a.task_key, a.attempt_no}] = &a;
    }
    for (const auto& [kn, e] : log_) {
      const std::string& key = kn.first;
      const std::string what = key + " #" + std::to_string(kn.second);
      if (e.starts == 0) {
        r_.Violation("side-effect log", what + ": an end or fail line without a start");
        continue;
      }
      r_.executions++;
      if (e.starts > 1) {
        r_.Violation("one attempt executed twice", what + " started " + std::to_string(e.starts) + " times");
      }
      auto at = by_key_no.find(kn);
      if (at == by_key_no.end()) {
        r_.Violation("execution without an attempt", what + " ran but the database has no such attempt");
        continue;
      }
      const DbAttempt& a = *at->second;
      if (e.start_ms < a.started_at) {
        r_.Violation("execution before its lease", what + " started " + Ms(e.start_ms, base_) +
                                                       ", leased " + Ms(a.started_at, base_));
      }
      const DbTask& t = tasks_.at(key);
      for (int64_t d : deps_[t.id]) {
        const DbTask* dt = Dep(d);
        if (dt == nullptr) continue;
        const DbAttempt* da = DoneAttempt(*dt);
        if (da == nullptr || !da->ended_at || e.start_ms < *da->ended_at) {
          r_.Violation("executed before its dependencies were done",
                       what + " started " + Ms(e.start_ms, base_) + ", dependency " + dt->key +
                           (da != nullptr && da->ended_at ? " done " + Ms(*da->ended_at, base_) : " never done"));
        }
      }
      if (t.state == "done") {
        const DbAttempt* da = DoneAttempt(t);
        if (da != nullptr && da != &a && a.outcome != "error") {
          r_.duplicate_executions++;
          if (da->ended_at && e.start_ms > *da->ended_at) {
            r_.Note("stale attempt started after the task was done",
                    what + " on " + a.worker + " (" + a.outcome + ") started " + Ms(e.start_ms, base_) +
                        ", done " + Ms(*da->ended_at, base_));
          }
        }
      }
    }
    // The accepted result came from a complete execution of that attempt.
    for (const auto& [key, t] : tasks_) {
      if (t.state != "done") continue;
      const DbAttempt* da = DoneAttempt(t);
      if (da == nullptr) continue;
      auto e = log_.find({key, da->attempt_no});
      if (e == log_.end() || e->second.end_ms < 0) {
        r_.Violation("accepted result without a complete execution",
                     key + " #" + std::to_string(da->attempt_no) + " done, but the log has no end line for it");
      } else if (e->second.value + "\n" != t.result) {
        r_.Violation("accepted result without a complete execution",
                     key + " #" + std::to_string(da->attempt_no) + ": the execution printed " +
                         e->second.value + ", stored " + Quote(t.result, 40));
      }
    }
    for (const auto& [task_id, at] : attempts_) {
      for (const auto& a : at) {
        if (log_.count({a.task_key, a.attempt_no}) == 0) r_.attempts_never_started++;
      }
    }
  }

  // Every lost attempt is explained by something that happened to its
  // worker: a SIGKILL (chaos, or a poison task it ran), a SIGSTOP, or a drain
  // (SIGTERM). A loss with none of these (say, after a broker restart) blames
  // a task for a worker loss that did not happen.
  void CheckLosses() {
    std::map<std::string, std::vector<WorkerEvent>> events;
    for (const auto& f : faults_) {
      if (f.skipped) continue;
      if (f.kind == files::kWorkerKill) {
        events[f.target].push_back({f.t, f.t, WorkerEvent::kKilled, "SIGKILL " + Ms(f.t, base_)});
      } else if (f.kind == files::kWorkerStop) {
        events[f.target].push_back({f.t, f.end, WorkerEvent::kStopped,
                                    "SIGSTOP " + Ms(f.t, base_) + ".." + Ms(f.end, base_)});
      } else if (f.kind == files::kWorkerTerm) {
        // A drain lasts up to the drain timeout, plus the ack wait (2 s),
        // plus a SIGSTOP the SIGTERM may wait behind (4 s at most), plus a margin.
        events[f.target].push_back({f.t, f.t + drain_ms_ + 8000, WorkerEvent::kDrained,
                                    "SIGTERM " + Ms(f.t, base_)});
      }
    }
    for (const auto& [task_id, at] : attempts_) {
      for (const auto& a : at) {
        auto e = log_.find({a.task_key, a.attempt_no});
        if (e != log_.end() && e->second.poison) {
          events[a.worker].push_back({e->second.start_ms, e->second.start_ms, WorkerEvent::kKilled,
                                      "poison " + a.task_key + " " + Ms(e->second.start_ms, base_)});
          r_.poison_kills++;
        }
      }
    }
    for (auto& [w, v] : events) {
      std::sort(v.begin(), v.end(), [](const WorkerEvent& x, const WorkerEvent& y) { return x.from < y.from; });
    }
    const int64_t phantom_window =
        static_cast<int64_t>(r_.heartbeat_ms) * r_.liveness + kPhantomMarginMs;
    for (const auto& [task_id, at] : attempts_) {
      for (const auto& a : at) {
        if (a.outcome != "lost" || !a.ended_at) continue;
        const int64_t s = a.started_at, end = *a.ended_at;
        const WorkerEvent* inside = nullptr;
        const WorkerEvent* before = nullptr;
        for (const auto& ev : events[a.worker]) {
          // A drain explains only what the draining process held: an attempt
          // leased before the SIGTERM (a draining worker takes no new work,
          // and its successor is a new process).
          const bool overlaps = ev.type == WorkerEvent::kDrained
                                    ? s <= ev.from && ev.from <= end && end <= ev.to
                                    : ev.from <= end && ev.to >= s;
          if (overlaps && (inside == nullptr || ev.type < inside->type)) inside = &ev;
          if (!overlaps && ev.from < s && ev.from >= s - phantom_window) before = &ev;
        }
        if (inside != nullptr) {
          if (inside->type == WorkerEvent::kKilled) r_.lost_killed++;
          if (inside->type == WorkerEvent::kStopped) r_.lost_stopped++;
          // Suspicious = lost attempts whose worker died: a frozen worker
          // comes back (the same process) and takes its suspicion back.
          if (inside->type == WorkerEvent::kStopped && a.blame == "death") {
            r_.Violation("a death blamed on a worker that did not die",
                         a.task_key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " " +
                             Ms(s, base_) + ".." + Ms(end, base_) + " (" + inside->what + "): " +
                             Quote(a.error, 100));
          }
          if (inside->type == WorkerEvent::kDrained) {
            r_.lost_drained++;
            r_.Note("lost (not released) while its worker drained after SIGTERM",
                    a.task_key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " " +
                        Ms(s, base_) + ".." + Ms(end, base_) + " (" + inside->what + "): " + Quote(a.error, 100) +
                        NearbyBrokerFaults(s, end));
          }
        } else if (before != nullptr) {
          r_.lost_phantom++;
          r_.Note("blamed for a worker that was already dead or frozen when it was leased",
                  a.task_key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " leased " +
                      Ms(s, base_) + " after " + before->what);
        } else if (const auto* stall = StallBefore(end)) {
          r_.lost_stall++;
          r_.Note("lost during a stall of the machine (no fault)",
                  a.task_key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " lost " +
                      Ms(end, base_) + ": " + Quote(a.error, 60) + "; the runner was not scheduled " +
                      Ms(stall->first, base_) + ".." + Ms(stall->second, base_));
        } else {
          r_.Violation("lost attempt without a worker fault",
                       a.task_key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " " +
                           Ms(s, base_) + ".." + Ms(end, base_) + ": " + Quote(a.error, 100) +
                           NearbyBrokerFaults(s, end));
        }
      }
    }
  }

  std::string NearbyBrokerFaults(int64_t from, int64_t to) const {
    std::string s;
    for (const auto& f : faults_) {
      if (f.skipped) continue;
      if (f.kind != files::kBrokerKill && f.kind != files::kBrokerTerm && f.kind != files::kBrokerStart) continue;
      if (f.t >= from - 10000 && f.t <= to) s += (s.empty() ? "" : ", ") + f.kind + " " + Ms(f.t, base_);
    }
    return s.empty() ? "" : " [broker: " + s + "]";
  }

  void CheckWorkers() {
    for (const auto& [name, state] : workers_) {
      if (state == "alive") r_.Note("worker still alive in the database after the stop", name);
    }
  }

  // Every death of a worker process, as its nanny logged it, must have a
  // cause: a SIGKILL of ours or of a poison task, or an exit 0 after a
  // SIGTERM of ours (a drain) or the final stop. Anything else is a crash.
  void CheckWorkerDeaths() {
    std::set<int64_t> killed, termed;
    for (const auto& f : faults_) {
      if (f.skipped) continue;
      if (f.kind == files::kWorkerKill) killed.insert(f.pid);
      if (f.kind == files::kWorkerTerm) termed.insert(f.pid);
    }
    std::map<std::string, int> poison_runs;  // worker -> poison executions on it
    for (const auto& [task_id, at] : attempts_) {
      for (const auto& a : at) {
        auto e = log_.find({a.task_key, a.attempt_no});
        if (e != log_.end() && e->second.poison) poison_runs[a.worker]++;
      }
    }
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ + "/" + files::kLogs, ec)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind("worker-", 0) != 0) continue;
      const std::string name = file.substr(7, file.size() - 7 - 4);  // worker-NAME.log
      std::vector<std::string> recent;
      std::set<int64_t> stopping;
      int unexplained_sigkills = 0;
      for (const auto& line : ReadLines(entry.path().string())) {
        const size_t drain = line.find("nanny: stopping: asking worker pid ");
        if (drain != std::string::npos) {
          stopping.insert(std::atoll(line.c_str() + drain + 35));
        }
        const size_t at = line.find("nanny: worker pid ");
        if (at == std::string::npos) {
          if (line.rfind("===", 0) != 0) recent.push_back(line);
          if (recent.size() > 3) recent.erase(recent.begin());
          continue;
        }
        const int64_t pid = std::atoll(line.c_str() + at + 18);
        const std::string how = line.substr(at + 18);
        int sig = 0, status = -1;
        const size_t ks = how.find("killed by signal ");
        const size_t es = how.find("exited with status ");
        if (ks != std::string::npos) sig = std::atoi(how.c_str() + ks + 17);
        if (es != std::string::npos) status = std::atoi(how.c_str() + es + 19);
        std::string context;
        for (const auto& c : recent) context += " | " + c;
        recent.clear();
        if (sig == 9) {
          if (killed.count(pid) == 0) ++unexplained_sigkills;
        } else if (status == 0) {
          if (termed.count(pid) == 0 && stopping.count(pid) == 0) {
            r_.Violation("worker exited by itself", name + ": " + how + context);
          }
        } else if (ks != std::string::npos || es != std::string::npos) {
          r_.Violation("worker crashed", name + ": " + how + context);
        }
      }
      if (unexplained_sigkills > poison_runs[name]) {
        r_.Violation("worker SIGKILLed by no fault",
                     name + ": " + std::to_string(unexplained_sigkills) + " SIGKILL death(s) not ours, " +
                         std::to_string(poison_runs[name]) + " poison execution(s) on it");
      }
    }
  }

  std::string dir_;
  CheckReport& r_;
  std::string log_path_;
  int64_t drain_ms_ = 25000;
  int64_t base_ = 0;
  std::vector<std::string> order_;
  std::unordered_map<std::string, TaskDef> manifest_;
  std::vector<Fault> faults_;
  std::vector<std::pair<int64_t, int64_t>> stalls_;
  std::map<std::pair<std::string, int64_t>, Execution> log_;
  std::unordered_map<std::string, DbTask> tasks_;
  std::unordered_map<int64_t, std::string> by_id_;
  std::unordered_map<int64_t, std::vector<int64_t>> deps_;
  std::unordered_map<int64_t, std::vector<DbAttempt>> attempts_;
  std::map<std::string, std::string> workers_;
};

}  // namespace

int CheckReport::faults_total() const {
  int n = 0;
  for (const auto& [k, v] : faults) n += v;
  return n;
}

void CheckReport::Violation(const std::string& category, const std::string& detail) {
  violation_counts[category]++;
  auto& ex = violation_examples[category];
  if (ex.size() < kExamplesKept) ex.push_back(detail);
}

void CheckReport::Note(const std::string& category, const std::string& detail) {
  note_counts[category]++;
  auto& ex = note_examples[category];
  if (ex.size() < kExamplesKept) ex.push_back(detail);
}

int CheckReport::violations() const {
  int n = 0;
  for (const auto& [k, v] : violation_counts) n += v;
  return n;
}

CheckReport Check(const std::string& dir) {
  CheckReport r;
  Checker(dir, &r).Run();
  return r;
}

namespace {

void Row(FILE* out, const std::string& label, const std::string& value) {
  fprintf(out, "  %-44s %s\n", label.c_str(), value.c_str());
}
std::string N(int64_t v) { return std::to_string(v); }
std::string Ratio(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
int Get(const std::map<std::string, int>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

}  // namespace

void PrintReport(const CheckReport& r, FILE* out, int examples_per_category) {
  fprintf(out, "\n== leaseq-chaos report: seed %llu, %d s of faults, %d workers x %d slots, "
               "heartbeat %d ms x %d, allowed-failures %d ==\n",
          static_cast<unsigned long long>(r.seed), r.seconds, r.workers, r.slots, r.heartbeat_ms,
          r.liveness, r.allowed_failures);
  fprintf(out, "faults injected\n");
  const std::vector<std::pair<const char*, const char*>> kinds = {
      {files::kWorkerKill, "worker SIGKILL"},       {files::kWorkerTerm, "worker SIGTERM (drain)"},
      {files::kWorkerStop, "worker SIGSTOP, later SIGCONT"}, {files::kBrokerKill, "broker SIGKILL + restart"},
      {files::kBrokerTerm, "broker SIGTERM + restart"},  {files::kClientKill, "leaseq-submit --file SIGKILLed"}};
  for (const auto& [k, label] : kinds) {
    std::string v = N(Get(r.faults, k));
    if (Get(r.skipped, k) > 0) v += "   (" + N(Get(r.skipped, k)) + " skipped)";
    Row(out, label, v);
  }
  Row(out, "worker killed by a poison task", N(r.poison_kills));
  const int total = r.faults_total() + r.poison_kills;
  Row(out, "total", N(total));
  fprintf(out, "tasks\n");
  Row(out, "submitted (manifest) / in the database", N(r.manifest_tasks) + " / " + N(r.db_tasks));
  Row(out, "acknowledged keys (printed by leaseq-submit)", N(r.acked_keys));
  Row(out, "killed clients: acked/unacked-stored/absent/resent",
      N(r.clients_killed_printed) + " / " + N(r.clients_killed_stored) + " / " +
          N(r.clients_killed_absent) + " / " + N(r.clients_killed_resubmitted) + " (of " +
          N(r.clients_killed) + ")");
  std::string states;
  for (const auto& [s, n] : r.states) states += (states.empty() ? "" : ", ") + s + " " + N(n);
  Row(out, "final states", states);
  Row(out, "failed as planned: doomed / poison", N(r.failed_doomed) + " / " + N(r.failed_poison));
  Row(out, "failed because a dependency failed", N(r.failed_by_dependency));
  Row(out, "failed: on allowed-failures+1 worker deaths", N(r.failed_collateral));
  fprintf(out, "attempts\n");
  std::string outcomes;
  for (const auto& [s, n] : r.outcomes) outcomes += (outcomes.empty() ? "" : ", ") + s + " " + N(n);
  Row(out, "attempts", N(r.attempts) + " (" + outcomes + ")");
  Row(out, "lost: worker killed / frozen / draining", N(r.lost_killed) + " / " + N(r.lost_stopped) + " / " +
                                                        N(r.lost_drained));
  Row(out, "lost: blamed as a death / suspected / withdrawn",
      N(Get(r.blame, "death")) + " / " + N(Get(r.blame, "suspected")) + " / " + N(Get(r.blame, "withdrawn")));
  Row(out, "lost: leased to an already dead/frozen worker", N(r.lost_phantom));
  Row(out, "lost: no fault, during a machine stall", N(r.lost_stall) + " (stalls of the runner >= 150 ms: " +
                                                          N(r.stalls) + ", longest " + N(r.longest_stall_ms) + " ms)");
  std::string causes;
  for (const auto& [s, n] : r.reexec_by_cause) causes += (causes.empty() ? "" : ", ") + s + " " + N(n);
  Row(out, "re-executions (attempts beyond the first)", N(r.reexecutions) + " (after " + (causes.empty() ? "-" : causes) + ")");
  const int fault_reexec = Get(r.reexec_by_cause, "lost") + Get(r.reexec_by_cause, "released");
  Row(out, "re-executions per fault (after lost/released)",
      total > 0 ? Ratio(static_cast<double>(fault_reexec) / total) : "-");
  Row(out, "executions (side-effect log)", N(r.executions) + " (leased but never started: " +
                                               N(r.attempts_never_started) + ")");
  Row(out, "duplicate executions of done tasks", N(r.duplicate_executions));
  fprintf(out, "violations\n");
  Row(out, "violations", N(r.violations()));
  for (const auto& [cat, n] : r.violation_counts) {
    fprintf(out, "  VIOLATION %s: %d\n", cat.c_str(), n);
    const auto& ex = r.violation_examples.at(cat);
    for (size_t i = 0; i < ex.size() && static_cast<int>(i) < examples_per_category; ++i) {
      fprintf(out, "      %s\n", ex[i].c_str());
    }
  }
  for (const auto& [cat, n] : r.note_counts) {
    fprintf(out, "  note: %s: %d\n", cat.c_str(), n);
    const auto& ex = r.note_examples.at(cat);
    for (size_t i = 0; i < ex.size() && static_cast<int>(i) < std::min(examples_per_category, 3); ++i) {
      fprintf(out, "      %s\n", ex[i].c_str());
    }
  }
  fprintf(out, "%s\n", r.violations() == 0 ? "RESULT: no violations" : "RESULT: VIOLATIONS FOUND");
}

}  // namespace leaseq::chaos
