#include "reader.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "dag.h"
#include "process.h"
#include "workdir.h"

namespace leaseq::chaos {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A fault as faults.jsonl records it.
struct Fault {
  int64_t t = 0, end = 0;
  std::string kind, target;
  int64_t pid = 0;
  bool skipped = false;
  bool keys_printed = false, resubmit = false;  // client-kill
  int64_t id = 0;                               // a network fault and its heal
};

class Reader {
 public:
  Reader(std::string dir, WorkDir* out) : dir_(std::move(dir)), out_(*out), run_(out->run), s_(out->snapshot) {}

  bool Run() {
    if (!LoadRun() || !LoadManifest()) return false;
    LoadFaults();
    LoadFindings();
    LoadLog();
    LoadStalls();
    if (!LoadDb()) return false;
    LoadAckedKeys();
    LoadWorkerLogs();
    return true;
  }

 private:
  std::string Path(const char* name) const { return dir_ + "/" + name; }
  void Violation(const std::string& category, const std::string& detail) {
    out_.violations.push_back({category, detail});
  }
  std::string Ms(int64_t t) const { return "t+" + std::to_string(t - s_.base_ms) + "ms"; }

  bool LoadRun() {
    try {
      json j = json::parse(ReadFile(Path(files::kRun)));
      run_.seed = j.at("seed").get<uint64_t>();
      run_.seconds = j.at("seconds").get<int>();
      run_.workers = j.at("workers").get<int>();
      run_.slots = j.at("slots").get<int>();
      run_.heartbeat_ms = j.at("heartbeat_ms").get<int>();
      run_.liveness = j.at("liveness").get<int>();
      run_.allowed_failures = j.at("allowed_failures").get<int>();
      run_.net_faults = j.value("net_faults", false);
      s_.side_effect_log = j.at("side_effect_log").get<std::string>();
      drain_ms_ = j.value("drain_timeout_ms", 25000);
      run_.window_start_ms = j.value("window_start_ms", int64_t{0});
      run_.window_end_ms = j.value("window_end_ms", int64_t{0});
      run_.run_end_ms = j.value("run_end_ms", int64_t{0});
      s_.heartbeat_ms = run_.heartbeat_ms;
      s_.liveness = run_.liveness;
      s_.allowed_failures = run_.allowed_failures;
      s_.base_ms = run_.window_start_ms;
      return true;
    } catch (const std::exception& e) {
      Violation("unreadable work dir", std::string(files::kRun) + ": " + e.what());
      return false;
    }
  }

  bool LoadManifest() {
    int line_no = 0;
    std::set<std::string> seen;
    for (const auto& line : ReadLines(Path(files::kManifest))) {
      ++line_no;
      try {
        TaskDef t = FromJson(json::parse(line));
        if (!seen.insert(t.key).second) {
          Violation("unreadable work dir", "manifest line " + std::to_string(line_no) + ": key " + t.key + " twice");
          continue;
        }
        s_.submitted.push_back(std::move(t));
      } catch (const std::exception& e) {
        Violation("unreadable work dir", "manifest line " + std::to_string(line_no) + ": " + e.what());
      }
    }
    return true;
  }

  void LoadFaults() {
    std::vector<Fault> faults;
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
        f.id = j.value("id", int64_t{0});
        faults.push_back(f);
        if (f.kind == files::kWorkerCont || f.kind == files::kBrokerStart || f.kind == files::kNetHeal) continue;
        if (f.skipped) {
          run_.skipped[f.kind]++;
        } else {
          run_.faults[f.kind]++;
        }
      } catch (const std::exception& e) {
        Violation("unreadable work dir", std::string(files::kFaults) + ": " + e.what());
      }
    }
    // A stop ends at the matching cont (by pid), else at its planned end.
    for (auto& f : faults) {
      if (f.kind != files::kWorkerStop || f.skipped) continue;
      for (const auto& c : faults) {
        if (c.kind == files::kWorkerCont && c.pid == f.pid && c.t >= f.t) {
          f.end = c.t;
          break;
        }
      }
    }
    // A network fault ends at its heal (by id), else at its planned end.
    for (auto& f : faults) {
      if (f.skipped || (f.kind != files::kNetCut && f.kind != files::kNetCutAll && f.kind != files::kNetFlap)) continue;
      for (const auto& h : faults) {
        if (h.kind == files::kNetHeal && h.id == f.id && h.t >= f.t) {
          f.end = h.t;
          break;
        }
      }
    }
    for (const auto& f : faults) {
      if (f.skipped) continue;
      if (f.kind == files::kNetCut || f.kind == files::kNetFlap || f.kind == files::kNetCutAll) {
        std::vector<std::string> targets = {f.target};
        if (f.kind == files::kNetCutAll) {
          targets.clear();
          for (int i = 0; i < run_.workers; ++i) targets.push_back("w" + std::to_string(i));
        }
        const std::string what = f.kind + " " + Ms(f.t) + ".." + Ms(f.end);
        for (const auto& w : targets) s_.worker_faults.push_back({WorkerFault::kCut, w, f.pid, f.t, f.end, what});
      } else if (f.kind == files::kWorkerKill) {
        s_.worker_faults.push_back({WorkerFault::kKilled, f.target, f.pid, f.t, f.t, "SIGKILL " + Ms(f.t)});
      } else if (f.kind == files::kWorkerStop) {
        s_.worker_faults.push_back(
            {WorkerFault::kStopped, f.target, f.pid, f.t, f.end, "SIGSTOP " + Ms(f.t) + ".." + Ms(f.end)});
      } else if (f.kind == files::kWorkerTerm) {
        // A drain lasts up to the drain timeout, plus the ack wait (2 s),
        // plus a SIGSTOP the SIGTERM may wait behind (4 s at most), plus a margin.
        s_.worker_faults.push_back(
            {WorkerFault::kDrained, f.target, f.pid, f.t, f.t + drain_ms_ + 8000, "SIGTERM " + Ms(f.t)});
      } else if (f.kind == files::kBrokerKill || f.kind == files::kBrokerTerm || f.kind == files::kBrokerStart) {
        s_.broker_events.push_back({f.t, f.kind});
      } else if (f.kind == files::kClientKill) {
        s_.client_kills.push_back({f.target, f.keys_printed, f.resubmit});
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
          Violation(what, detail);
        } else {
          out_.notes.push_back({what, detail});
        }
      } catch (const std::exception& e) {
        Violation("unreadable work dir", std::string(files::kFindings) + ": " + e.what());
      }
    }
  }

  void LoadStalls() {
    for (const auto& line : ReadLines(Path(files::kStalls))) {
      try {
        json j = json::parse(line);
        s_.stalls.push_back({j.at("from").get<int64_t>(), j.at("to").get<int64_t>()});
      } catch (const std::exception& e) {
        Violation("unreadable work dir", std::string(files::kStalls) + ": " + e.what());
      }
    }
  }

  void LoadLog() {
    std::map<std::pair<std::string, int64_t>, Execution> log;
    for (const auto& line : ReadLines(Path(files::kSideEffects))) {
      std::istringstream in(line);
      std::string key, event, extra;
      int64_t attempt = 0, ms = 0;
      in >> key >> attempt >> event >> ms;
      if (!in || (event != "start" && event != "end" && event != "fail")) {
        std::string q = line.size() > 160 ? line.substr(0, 160) + "..." : line;
        Violation("side-effect log", "malformed line '" + q + "'");
        continue;
      }
      in >> extra;
      Execution& e = log[{key, attempt}];
      e.key = key;
      e.attempt_no = attempt;
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
    for (auto& [k, e] : log) s_.executions.push_back(std::move(e));
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
        if (all != "ok") Violation("PRAGMA integrity_check", all);
      }
      {
        SQLite::Statement q(db, "PRAGMA foreign_key_check");
        int n = 0;
        while (q.executeStep()) ++n;
        if (n > 0) Violation("PRAGMA foreign_key_check", std::to_string(n) + " dangling reference(s)");
      }
      std::map<int64_t, std::vector<int64_t>> deps;
      SQLite::Statement dq(db, "SELECT task_id, pos, dep_id FROM task_deps ORDER BY task_id, pos");
      while (dq.executeStep()) deps[dq.getColumn(0).getInt64()].push_back(dq.getColumn(2).getInt64());
      SQLite::Statement tq(db,
                           "SELECT id, key, state, suspicious, errors, retries, priority, "
                           "attempts_count, failed_dep, result, error, cmd, input, deaths FROM tasks");
      while (tq.executeStep()) {
        StoredTask t;
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
        t.deps = deps[t.id];
        s_.tasks.push_back(std::move(t));
      }
      SQLite::Statement aq(db,
                           "SELECT id, task_id, task_key, attempt_no, worker, started_at, ended_at, "
                           "outcome, exit_code, error, blame FROM attempts ORDER BY id");
      while (aq.executeStep()) {
        StoredAttempt a;
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
        s_.attempts.push_back(std::move(a));
      }
      // The status counters kept by the broker must match the rows.
      SQLite::Statement cq(db,
                           "SELECT c.state, c.n, (SELECT count(*) FROM tasks t WHERE t.state = "
                           "c.state) FROM task_state_counts c");
      while (cq.executeStep()) {
        if (cq.getColumn(1).getInt64() != cq.getColumn(2).getInt64()) {
          Violation("task_state_counts", cq.getColumn(0).getString() + ": counter " + cq.getColumn(1).getString() +
                                             ", rows " + cq.getColumn(2).getString());
        }
      }
      SQLite::Statement wq(db, "SELECT name, state FROM workers ORDER BY name");
      while (wq.executeStep()) s_.workers.push_back({wq.getColumn(0).getString(), wq.getColumn(1).getString()});
    } catch (const std::exception& e) {
      Violation("unreadable database", db_path + ": " + e.what());
      return false;
    }
    return true;
  }

  // The keys each leaseq-submit printed (submits/BATCH.TRY.keys).
  void LoadAckedKeys() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ + "/" + files::kSubmits, ec)) {
      if (entry.path().extension() != ".keys") continue;
      for (const auto& k : ReadLines(entry.path().string())) s_.acked_keys.insert(k);
    }
  }

  // The ends of worker processes, from the nannies' logs (worker-NAME.log):
  // "nanny: worker pid P killed by signal S" / "... exited with status N",
  // and "nanny: stopping: asking worker pid P" before the final stop.
  void LoadWorkerLogs() {
    std::error_code ec;
    std::vector<fs::path> logs;
    for (const auto& entry : fs::directory_iterator(dir_ + "/" + files::kLogs, ec)) logs.push_back(entry.path());
    std::sort(logs.begin(), logs.end());
    for (const auto& path : logs) {
      const std::string file = path.filename().string();
      if (file.rfind("worker-", 0) != 0) continue;
      const std::string name = file.substr(7, file.size() - 7 - 4);  // worker-NAME.log
      std::vector<std::string> recent;
      std::set<int64_t> stopping;
      for (const auto& line : ReadLines(path.string())) {
        const size_t drain = line.find("nanny: stopping: asking worker pid ");
        if (drain != std::string::npos) stopping.insert(std::atoll(line.c_str() + drain + 35));
        const size_t at = line.find("nanny: worker pid ");
        if (at == std::string::npos) {
          if (line.rfind("===", 0) != 0) recent.push_back(line);
          if (recent.size() > 3) recent.erase(recent.begin());
          continue;
        }
        ProcessEnd p;
        p.worker = name;
        p.pid = std::atoll(line.c_str() + at + 18);
        p.how = line.substr(at + 18);
        const size_t ks = p.how.find("killed by signal ");
        const size_t es = p.how.find("exited with status ");
        if (ks != std::string::npos) p.signal = std::atoi(p.how.c_str() + ks + 17);
        if (es != std::string::npos) p.status = std::atoi(p.how.c_str() + es + 19);
        for (const auto& c : recent) p.context += " | " + c;
        recent.clear();
        p.asked_to_stop = stopping.count(p.pid) != 0;
        if (ks != std::string::npos || es != std::string::npos) s_.process_ends.push_back(std::move(p));
      }
    }
  }

  std::string dir_;
  WorkDir& out_;
  RunInfo& run_;
  Snapshot& s_;
  int64_t drain_ms_ = 25000;
};

}  // namespace

bool ReadWorkDir(const std::string& dir, WorkDir* out) { return Reader(dir, out).Run(); }

}  // namespace leaseq::chaos
