// The checker must catch what it claims to catch: a small synthetic work
// directory that is correct, then one broken promise at a time.
#include "checker.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dag.h"
#include "process.h"
#include "leaseq_schema_sql.h"
#include "workdir.h"

namespace leaseq::chaos {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A finished run in miniature:
//   tA (1)           done, one attempt on w0
//   tB (2) after tA  done, one attempt on w1; result folds tA's
//   tP poison        failed, lost on 4 workers (each ran it: a poison line in the log)
//   tD after tP      failed because of tP
//   tF doomed        failed after its single attempt (retries 0)
class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/leaseq-chaos-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/submits");
    log_ = dir_ + "/" + files::kSideEffects;
    json run = {{"seed", 7},          {"seconds", 1},       {"workers", 4},           {"slots", 2},
                {"heartbeat_ms", 200}, {"liveness", 3},      {"allowed_failures", 3}, {"side_effect_log", log_},
                {"window_start_ms", 0}};
    std::ofstream(dir_ + "/" + files::kRun) << run.dump();

    TaskDef a{.key = "tA", .num = 1, .batch = "wave-0000"};
    TaskDef b{.key = "tB", .num = 2, .after = {"tA"}, .batch = "wave-0000"};
    TaskDef p{.key = "tP", .num = 3, .kind = Kind::kPoison, .batch = "wave-0000"};
    TaskDef d{.key = "tD", .num = 4, .after = {"tP"}, .batch = "wave-0000"};
    TaskDef f{.key = "tF", .num = 5, .kind = Kind::kDoomed, .fail_until = kAlways, .batch = "wave-0000"};
    defs_ = {a, b, p, d, f};

    db_ = std::make_unique<SQLite::Database>(dir_ + "/" + files::kDb, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db_->exec("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY");
    db_->exec(kSql_schema);
    Task(1, a, "done", 0, 0, "1\n");
    Task(2, b, "done", 0, 0, ResultText(Fold(2, "1\n")));
    Task(3, p, "failed", 4, 0, "", "lost 4 workers while running it, each a death (allowed-failures 3); it probably kills its worker");
    Task(4, d, "failed", 0, 0, "", "dependency tP failed", 3);
    Task(5, f, "failed", 0, 1, "", "exit status 3");
    db_->exec("INSERT INTO task_deps VALUES (2, 0, 1), (4, 0, 3)");
    Attempt(1, "tA", 1, "w0", 1000, 1100, "done", 0);
    Attempt(2, "tB", 1, "w1", 1200, 1300, "done", 0);
    for (int i = 0; i < 4; ++i) {
      Attempt(3, "tP", i + 1, "w" + std::to_string(i), 2000 + 200 * i, 2100 + 200 * i, "lost", -1);
      Log("tP " + std::to_string(i + 1) + " start " + std::to_string(2010 + 200 * i) + " poison");
    }
    Attempt(5, "tF", 1, "w2", 3000, 3100, "error", 3);
    Log("tA 1 start 1010");
    Log("tA 1 end 1090 1");
    Log("tB 1 start 1210");
    Log("tB 1 end 1290 " + std::to_string(Fold(2, "1\n")));
    Log("tF 1 start 3010");
    Log("tF 1 fail 3090");
    std::ofstream(dir_ + "/submits/wave-0000.1.keys") << "tA\ntB\ntP\ntD\ntF\n";
    std::ofstream(dir_ + "/" + files::kFaults);
    WriteManifest();
  }

  void TearDown() override {
    db_.reset();
    fs::remove_all(dir_);
  }

  void Task(int id, const TaskDef& t, const std::string& state, int suspicious, int errors,
            const std::string& result, const std::string& error = "", int failed_dep = 0) {
    SQLite::Statement q(*db_,
                        "INSERT INTO tasks (id, key, state, cmd, input, retries, errors, suspicious, "
                        "attempts_count, failed_dep, result, error, spec, created_at, updated_at, deaths) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, '{}', 0, 0, ?8)");
    q.bind(1, id);
    q.bind(2, t.key);
    q.bind(3, state);
    q.bind(4, json(TaskArgv(t, log_)).dump());
    q.bind(5, t.input.data(), static_cast<int>(t.input.size()));
    q.bind(6, t.retries);
    q.bind(7, errors);
    q.bind(8, suspicious);
    if (failed_dep > 0) q.bind(9, failed_dep); else q.bind(9);
    if (state == "done") q.bind(10, result.data(), static_cast<int>(result.size())); else q.bind(10);
    if (error.empty()) q.bind(11); else q.bind(11, error);
    q.exec();
    Recount();
  }

  void Attempt(int task_id, const std::string& key, int no, const std::string& worker, int64_t start,
               int64_t end, const std::string& outcome, int exit_code,
               const std::string& blame = "death") {
    SQLite::Statement q(*db_,
                        "INSERT INTO attempts (task_id, task_key, attempt_no, worker, started_at, ended_at, "
                        "outcome, exit_code, blame) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, task_id);
    q.bind(2, key);
    q.bind(3, no);
    q.bind(4, worker);
    q.bind(5, start);
    if (outcome == "running") q.bind(6); else q.bind(6, end);
    q.bind(7, outcome);
    q.bind(8, exit_code);
    if (outcome == "lost") q.bind(9, blame); else q.bind(9);
    q.exec();
    db_->exec("UPDATE tasks SET attempts_count = attempts_count + 1 WHERE id = " + std::to_string(task_id));
  }

  void Log(const std::string& line) { std::ofstream(log_, std::ios::app) << line << "\n"; }
  void Fault(const json& j) { std::ofstream(dir_ + "/" + files::kFaults, std::ios::app) << j.dump() << "\n"; }
  void WriteManifest() {
    std::ofstream m(dir_ + "/" + files::kManifest);
    for (const auto& t : defs_) m << ToJson(t).dump() << "\n";
  }

  CheckReport Run() {
    db_.reset();  // the checker opens it read-only
    return Check(dir_);
  }
  // The tests write tasks with plain SQL, past the broker, which is what
  // keeps the counters (sql/schema.sql): count them as it would have.
  void Sql(const std::string& sql) {
    db_->exec(sql);
    Recount();
  }
  void Recount() {
    db_->exec("UPDATE task_state_counts SET n = (SELECT count(*) FROM tasks t "
              "WHERE t.state = task_state_counts.state)");
    db_->exec("DELETE FROM queue_counts");
    db_->exec("INSERT INTO queue_counts (queue, fn, state, n) "
              "SELECT queue, coalesce(fn, ''), state, count(*) FROM tasks GROUP BY 1, 2, 3");
  }
  // tA lost once on w2 (blame given) before its done attempt, which becomes #2.
  void LostOnceOnW2(const std::string& blame) {
    Sql("UPDATE attempts SET attempt_no = 2 WHERE task_key = 'tA'");
    Attempt(1, "tA", 1, "w2", 500, 900, "lost", -1, blame);
    Sql("UPDATE attempts SET id = 0 WHERE task_key = 'tA' AND attempt_no = 1");
    Log("tA 2 start 1010");
    Log("tA 2 end 1090 1");
  }

  static std::string Categories(const CheckReport& r) {
    std::string s;
    for (const auto& [k, v] : r.violation_counts) s += k + "; ";
    return s;
  }

  std::string dir_, log_;
  std::vector<TaskDef> defs_;
  std::unique_ptr<SQLite::Database> db_;
};

TEST_F(CheckerTest, CleanRunHasNoViolation) {
  CheckReport r = Run();
  EXPECT_EQ(r.violations(), 0) << Categories(r);
  EXPECT_EQ(r.failed_poison, 1);
  EXPECT_EQ(r.failed_doomed, 1);
  EXPECT_EQ(r.failed_by_dependency, 1);
  EXPECT_EQ(r.poison_kills, 4);
  EXPECT_EQ(r.reexecutions, 3);
  EXPECT_EQ(r.acked_keys, 5);
}

TEST_F(CheckerTest, AcknowledgedTaskMissing) {
  std::ofstream(dir_ + "/submits/client-0000.1.keys") << "c0000-00\n";
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["acknowledged task missing"], 1) << Categories(r);
}

TEST_F(CheckerTest, PartiallyStoredBatch) {
  defs_.push_back(TaskDef{.key = "c0000-00", .num = 9, .batch = "client-0000"});
  defs_.push_back(TaskDef{.key = "c0000-01", .num = 10, .batch = "client-0000"});
  WriteManifest();
  Task(6, defs_[5], "done", 0, 0, "9\n");
  Attempt(6, "c0000-00", 1, "w0", 4000, 4100, "done", 0);
  Log("c0000-00 1 start 4010");
  Log("c0000-00 1 end 4020 9");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["partially stored submission"], 1) << Categories(r);
}

TEST_F(CheckerTest, WrongResult) {
  Sql("UPDATE tasks SET result = CAST('264\n' AS BLOB) WHERE key = 'tB'");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["wrong result"], 1) << Categories(r);
}

TEST_F(CheckerTest, StartedBeforeDependencyDone) {
  Sql("UPDATE attempts SET started_at = 1050 WHERE task_key = 'tB'");
  CheckReport r = Run();
  EXPECT_GE(r.violation_counts["started before its dependencies were done"], 1) << Categories(r);
}

TEST_F(CheckerTest, ExecutedBeforeDependencyDone) {
  Sql("UPDATE attempts SET started_at = 1050 WHERE task_key = 'tB'");
  Log("tB 1 start 1060");  // an earlier start line of the same attempt
  CheckReport r = Run();
  EXPECT_GE(r.violation_counts["executed before its dependencies were done"], 1) << Categories(r);
  EXPECT_EQ(r.violation_counts["one attempt executed twice"], 1) << Categories(r);
}

TEST_F(CheckerTest, CompletedTwice) {
  Attempt(1, "tA", 2, "w3", 1150, 1180, "done", 0);
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["done task without exactly one done attempt"], 1) << Categories(r);
}

TEST_F(CheckerTest, OverlappingAttempts) {
  Sql("UPDATE attempts SET attempt_no = 2 WHERE task_key = 'tA'");
  Sql("UPDATE tasks SET suspicious = 1 WHERE key = 'tA'");
  Attempt(1, "tA", 1, "w3", 900, 1050, "lost", -1);
  Sql("UPDATE attempts SET id = 0 WHERE task_key = 'tA' AND attempt_no = 1");  // keep id order = attempt order
  Fault({{"t", 950}, {"kind", "worker-kill"}, {"target", "w3"}, {"pid", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["overlapping attempts (two leases at once)"], 1) << Categories(r);
}

TEST_F(CheckerTest, ReleasedAgainAndAgainByOneWorkerIsAStorm) {
  // tA's done attempt becomes #12, after 11 attempts w3 handed back.
  Sql("UPDATE attempts SET attempt_no = 12 WHERE task_key = 'tA'");
  std::string log = ReadFile(log_);
  for (size_t at; (at = log.find("tA 1 ")) != std::string::npos;) log.replace(at, 5, "tA 12 ");
  std::ofstream(log_, std::ios::trunc) << log;
  for (int i = 1; i <= 11; ++i) Attempt(1, "tA", i, "w3", 900 + i, 900 + i, "released", -1);
  Sql("UPDATE attempts SET id = id - 1000 WHERE task_key = 'tA' AND outcome = 'released'");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["released again and again by one worker"], 1) << Categories(r);
  EXPECT_EQ(r.violations(), 1) << Categories(r);
}

TEST_F(CheckerTest, SuspicionCountsOnlyLostAttempts) {
  Sql("UPDATE tasks SET suspicious = 1 WHERE key = 'tA'");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["suspicious differs from the lost attempts"], 1) << Categories(r);
}

// Suspicious = lost attempts whose worker did not come back; deaths = those
// whose worker is known dead. A frozen worker (SIGSTOP) came back: a death
// blamed on it is a violation, its withdrawn loss counts nothing.
TEST_F(CheckerTest, AFrozenWorkersLossIsWithdrawnNotADeath) {
  LostOnceOnW2("withdrawn");
  Fault({{"t", 600}, {"end", 800}, {"kind", "worker-stop"}, {"target", "w2"}, {"pid", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violations(), 0) << Categories(r);
  EXPECT_EQ(r.blame["withdrawn"], 1);
}

TEST_F(CheckerTest, ADeathBlamedOnAFrozenWorkerIsAViolation) {
  LostOnceOnW2("death");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Fault({{"t", 600}, {"end", 800}, {"kind", "worker-stop"}, {"target", "w2"}, {"pid", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["a death blamed on a worker that did not die"], 1) << Categories(r);
}

// A worker cut off by a network fault (net-cut, net-cut-all, net-flap: from
// the fault to its heal) comes back as itself: its loss is explained, and
// withdrawn, never a death, unless its process ended before it came back.
TEST_F(CheckerTest, ACutOffWorkersLossIsExplainedAndWithdrawn) {
  LostOnceOnW2("withdrawn");
  Fault({{"t", 600}, {"end", 3000}, {"kind", "net-cut"}, {"target", "w2"}, {"id", 1}});
  Fault({{"t", 850}, {"kind", "net-heal"}, {"target", "w2"}, {"id", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violations(), 0) << Categories(r);
  EXPECT_EQ(r.lost_cut, 1);
  EXPECT_EQ(r.faults["net-cut"], 1);
  EXPECT_EQ(r.faults.count("net-heal"), 0u);  // the end of a fault, not one
}

TEST_F(CheckerTest, EveryLinkCutExplainsALossOnAnyWorker) {
  LostOnceOnW2("withdrawn");
  Fault({{"t", 600}, {"end", 800}, {"kind", "net-cut-all"}, {"target", "all"}, {"id", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violations(), 0) << Categories(r);
  EXPECT_EQ(r.lost_cut, 1);
}

TEST_F(CheckerTest, ADeathBlamedOnACutOffWorkerThatCameBackIsAViolation) {
  LostOnceOnW2("death");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Fault({{"t", 600}, {"end", 800}, {"kind", "net-flap"}, {"target", "w2"}, {"id", 1}});
  Sql("UPDATE attempts SET worker = 'w9' WHERE task_key = 'tP' AND worker = 'w2'");  // no poison kill on w2 soon after
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["a death blamed on a worker that did not die"], 1) << Categories(r);
}

TEST_F(CheckerTest, ACutOffWorkerKilledBeforeItCameBackDied) {
  LostOnceOnW2("death");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Fault({{"t", 600}, {"end", 800}, {"kind", "net-cut"}, {"target", "w2"}, {"id", 1}});
  Fault({{"t", 2000}, {"kind", "worker-kill"}, {"target", "w2"}, {"pid", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violations(), 0) << Categories(r);
}

TEST_F(CheckerTest, ALossSoonAfterAHealIsExplained) {
  LostOnceOnW2("withdrawn");  // leased at 500, the link healed at 100
  Fault({{"t", 0}, {"end", 100}, {"kind", "net-cut"}, {"target", "w2"}, {"id", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violations(), 0) << Categories(r);
  EXPECT_EQ(r.lost_phantom, 1);
}

// A frozen worker that was draining (SIGTERM before the SIGSTOP) exits when
// thawed: it did not come back, its loss is a death.
TEST_F(CheckerTest, AFrozenWorkerThatWasDrainingDied) {
  LostOnceOnW2("death");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Fault({{"t", 550}, {"kind", "worker-term"}, {"target", "w2"}, {"pid", 7}});
  Fault({{"t", 600}, {"end", 800}, {"kind", "worker-stop"}, {"target", "w2"}, {"pid", 7}});
  CheckReport r = Run();
  EXPECT_EQ(r.violations(), 0) << Categories(r);
}

TEST_F(CheckerTest, DeathsCountOnlyLossesBlamedAsDeaths) {
  LostOnceOnW2("suspected");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Fault({{"t", 600}, {"kind", "worker-kill"}, {"target", "w2"}, {"pid", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["deaths differ from the lost attempts blamed as deaths"], 1) << Categories(r);
}

TEST_F(CheckerTest, PoisonMustFailBySuspicion) {
  Sql("UPDATE tasks SET suspicious = 3, deaths = 3 WHERE key = 'tP'");
  Sql("DELETE FROM attempts WHERE task_key = 'tP' AND attempt_no = 4");
  Sql("UPDATE tasks SET attempts_count = 3 WHERE key = 'tP'");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["poison task not failed by suspicion"], 1) << Categories(r);
}

TEST_F(CheckerTest, LossNeedsAWorkerFault) {
  // tA lost once on w2 before its done attempt: no fault on w2 then.
  Sql("UPDATE attempts SET attempt_no = 2 WHERE task_key = 'tA'");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Attempt(1, "tA", 1, "w2", 500, 900, "lost", -1);
  Sql("UPDATE attempts SET id = 0 WHERE task_key = 'tA' AND attempt_no = 1");
  Sql("UPDATE attempts SET attempt_no = 2 WHERE task_key = 'tA' AND id <> 0");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["lost attempt without a worker fault"], 1) << Categories(r);
}

TEST_F(CheckerTest, LossExplainedByAKill) {
  Sql("UPDATE attempts SET attempt_no = 2 WHERE task_key = 'tA'");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Attempt(1, "tA", 1, "w2", 500, 900, "lost", -1);
  Sql("UPDATE attempts SET id = 0 WHERE task_key = 'tA' AND attempt_no = 1");
  Log("tA 2 start 1010");  // the done attempt is #2 now: fix its log lines
  Log("tA 2 end 1090 1");
  Fault({{"t", 600}, {"kind", "worker-kill"}, {"target", "w2"}, {"pid", 1}});
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["lost attempt without a worker fault"], 0) << Categories(r);
  EXPECT_EQ(r.lost_killed, 5);  // the 4 poison losses and this one
}

TEST_F(CheckerTest, LossDuringAMachineStallIsANote) {
  Sql("UPDATE attempts SET attempt_no = 2 WHERE task_key = 'tA'");
  Sql("UPDATE tasks SET suspicious = 1, deaths = 1 WHERE key = 'tA'");
  Attempt(1, "tA", 1, "w2", 500, 900, "lost", -1);
  Sql("UPDATE attempts SET id = 0 WHERE task_key = 'tA' AND attempt_no = 1");
  std::ofstream(dir_ + "/" + files::kStalls) << json({{"from", 200}, {"to", 700}}).dump() << "\n";
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["lost attempt without a worker fault"], 0) << Categories(r);
  EXPECT_EQ(r.lost_stall, 1);
}

TEST_F(CheckerTest, NotTerminal) {
  Sql("UPDATE tasks SET state = 'running', result = NULL WHERE key = 'tB'");
  Sql("UPDATE attempts SET outcome = 'running', ended_at = NULL WHERE task_key = 'tB'");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["task not terminal at the end"], 1) << Categories(r);
  EXPECT_EQ(r.violation_counts["attempt still running at the end"], 1) << Categories(r);
}

TEST_F(CheckerTest, DependentOfFailedMustFailNamingIt) {
  Sql("UPDATE tasks SET failed_dep = NULL, error = 'something' WHERE key = 'tD'");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["dependent of a failed task not failed"], 1) << Categories(r);
}

TEST_F(CheckerTest, ExecutionWithoutAttempt) {
  Log("tA 7 start 1500");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["execution without an attempt"], 1) << Categories(r);
}

TEST_F(CheckerTest, AcceptedResultNeedsACompleteExecution) {
  // The end line of tB is missing: its result came from nowhere.
  std::string text;
  {
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("tB 1 end", 0) != 0) text += line + "\n";
    }
  }
  std::ofstream(log_) << text;
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["accepted result without a complete execution"], 1) << Categories(r);
}

TEST_F(CheckerTest, UnplannedError) {
  Sql("UPDATE attempts SET exit_code = -1, error = 'killed by signal 9' WHERE task_key = 'tF'");
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["unexpected failed attempt"], 1) << Categories(r);
}

TEST_F(CheckerTest, RunnerFindingsAreViolations) {
  std::ofstream(dir_ + "/" + files::kFindings)
      << json({{"what", "broker exited by itself"}, {"detail", "exit 1"}}).dump() << "\n";
  CheckReport r = Run();
  EXPECT_EQ(r.violation_counts["broker exited by itself"], 1) << Categories(r);
}

TEST(DagTest, SameSeedSameDag) {
  DagOptions o;
  o.tasks = 500;
  auto a = GenerateMainDag(42, o), b = GenerateMainDag(42, o), c = GenerateMainDag(43, o);
  ASSERT_EQ(a.size(), 500u);
  bool same = true, differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    same = same && ToJson(a[i]) == ToJson(b[i]);
    differs = differs || ToJson(a[i]) != ToJson(c[i]);
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
  int poison = 0, doomed = 0, with_deps = 0;
  for (const auto& t : a) {
    poison += t.kind == Kind::kPoison;
    doomed += t.kind == Kind::kDoomed;
    with_deps += !t.after.empty();
    for (const auto& d : t.after) EXPECT_LT(d, t.key);  // earlier tasks only
  }
  EXPECT_GE(poison, 2);
  EXPECT_GE(doomed, 3);
  EXPECT_GT(with_deps, 250);
}

TEST(DagTest, FoldMatchesTheShellScript) {
  // s = num; for each line x: s = (s * 131 + x) mod 1000000007
  EXPECT_EQ(Fold(5, ""), 5);
  EXPECT_EQ(Fold(5, "7\n"), 5 * 131 + 7);
  EXPECT_EQ(Fold(999999999, "999999999\n1\n"),
            ((999999999LL * 131 + 999999999) % kResultModulus * 131 + 1) % kResultModulus);
}

}  // namespace
}  // namespace leaseq::chaos
