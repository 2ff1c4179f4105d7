// Schema versions: a version 1 file upgraded in place with every task intact,
// the same schema as a new file, refusals, and an upgrade that fails whole.
#include "broker/store_schema.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "broker/schema_v1_fixture.h"
#include "broker/store.h"
#include "broker/store_test_util.h"

namespace leaseq::testing {
namespace {

class SchemaTest : public ::testing::Test {
 protected:
  void TearDown() override { store_.reset(); }
  Status Open(const std::string& path) {
    store_.reset();
    return Store::Open(path, Durability::kNormal, kTestSettings, &store_);
  }
  std::string Path(const std::string& name) const { return dir_.File(name); }

  test_support::TempDir dir_{"leaseq-schema-test"};  // outlives store_
  std::unique_ptr<Store> store_;
};

int64_t Int(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

// Everything that makes up a schema, comparable between two files: columns
// by name (an added column comes last, a declared one anywhere), index and
// trigger definitions with blanks folded.
std::map<std::string, std::string> SchemaOf(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  std::map<std::string, std::string> out;
  auto fold = [](std::string sql) { return std::regex_replace(sql, std::regex("\\s+"), " "); };
  SQLite::Statement objects(db, "SELECT type, name, tbl_name, sql FROM sqlite_master");
  while (objects.executeStep()) {
    const std::string type = objects.getColumn(0).getString();
    const std::string name = objects.getColumn(1).getString();
    const std::string sql = objects.getColumn(3).isNull() ? "" : objects.getColumn(3).getString();
    if (type != "table") {
      out[type + " " + name] = fold(sql);
      continue;
    }
    SQLite::Statement cols(db, "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)");
    cols.bind(1, name);
    while (cols.executeStep()) {
      out["column " + name + "." + cols.getColumn(0).getString()] =
          cols.getColumn(1).getString() + " notnull=" + cols.getColumn(2).getString() +
          " default=" + (cols.getColumn(3).isNull() ? "none" : cols.getColumn(3).getString()) +
          " pk=" + cols.getColumn(4).getString();
    }
    // WITHOUT ROWID and CHECK constraints live only in the CREATE text.
    out["table " + name + " without rowid"] = sql.find("WITHOUT ROWID") != std::string::npos ? "yes" : "no";
    const std::string folded = fold(sql);
    std::regex check("CHECK \\(([^()]*)\\)");
    int i = 0;
    for (auto it = std::sregex_iterator(folded.begin(), folded.end(), check); it != std::sregex_iterator(); ++it) {
      out["table " + name + " check " + std::to_string(i++)] = (*it)[1].str();
    }
  }
  return out;
}

TEST_F(SchemaTest, AVersion1FileIsUpgradedInPlaceWithEveryTaskIntact) {
  const std::string path = Path("jobs.db");
  WriteV1Fixture(path);
  ASSERT_EQ(Int(path, "PRAGMA user_version"), 1);
  ASSERT_OK(Open(path));
  EXPECT_EQ(store_->migrated_from(), 1);
  EXPECT_EQ(Int(path, "PRAGMA user_version"), schema::kCurrentVersion);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM tasks"), kV1FixtureTasks);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM attempts"), 3);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM task_deps"), 1);
  // The counters, old and new, agree with the rows.
  nlohmann::json counts, workers;
  ASSERT_OK(store_->Counts(&counts, &workers));
  EXPECT_EQ(counts, nlohmann::json({{"waiting", 1}, {"queued", 2}, {"running", 1}, {"done", 1},
                                    {"failed", 1}, {"cancelled", 1}}));
  EXPECT_EQ(Int(path, "SELECT n FROM queue_counts WHERE queue = 'gpu' AND fn = 'echo' AND state = 'queued'"), 1);
  EXPECT_EQ(Int(path, "SELECT sum(n) FROM queue_counts WHERE queue = 'default'"), 6);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM paused_queues"), 0);
  // A file written before stays as it was (VACUUM converts it, offline).
  EXPECT_EQ(Int(path, "PRAGMA auto_vacuum"), 0);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);

  // And the broker works on it: results, leases, dependencies.
  std::string state, result;
  ASSERT_OK(store_->Fetch("done1", &state, &result));
  EXPECT_EQ(result, "R1\n");
  nlohmann::json fail;
  ASSERT_OK(store_->Show("fail1", &fail));
  EXPECT_EQ(fail["attempts"][0]["exit_code"], 3);
  std::vector<Assignment> got;
  WorkerRecord w = Worker("w1", {"gpu", "default"}, "s1");
  w.fns = {"echo"};
  ASSERT_OK(store_->Begin());
  bool same = false;
  ASSERT_OK(store_->RegisterWorker(w, kV1FixtureTime, &same));
  EXPECT_TRUE(same);
  ASSERT_OK(store_->Claim(w, 10, kV1FixtureTime + 10'000, &got));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "queued1");
  EXPECT_EQ(got[0].stdin_bytes, "hi");
  EXPECT_EQ(got[1].key, "q2");
  AttemptResult r;
  r.attempt_id = Int(path, "SELECT id FROM attempts WHERE task_key = 'run1'");
  r.exit_code = 0;
  r.stdout_bytes = "out";
  bool applied = false;
  ASSERT_OK(store_->Complete("w1", r, kV1FixtureTime + 10'000, &applied));
  ASSERT_OK(store_->Commit());
  EXPECT_TRUE(applied);
  nlohmann::json wait1;
  ASSERT_OK(store_->Show("wait1", &wait1));
  EXPECT_EQ(wait1["state"], "queued");
  EXPECT_EQ(Int(path, "SELECT n FROM queue_counts WHERE queue = 'default' AND fn = '' AND state = 'running'"), 1);

  // Opening it again migrates nothing.
  ASSERT_OK(Open(path));
  EXPECT_EQ(store_->migrated_from(), 0);
}

// Version 2 -> 3 (blame): the losses a version 2 broker counted against a
// task stay counted, now as deaths, so no task changes its fate.
TEST_F(SchemaTest, AVersion2FileKeepsItsLossesAsDeaths) {
  const std::string path = Path("v2.db");
  WriteV1Fixture(path);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    SQLite::Transaction tx(db);
    db.exec(std::string(kSql_migrate_v2));
    db.exec(std::string(kSql_migrate_time));
    db.exec("PRAGMA user_version = 2");
    tx.commit();
    db.exec("INSERT INTO attempts (task_id, task_key, attempt_no, worker, started_at, ended_at, "
            "outcome, error) VALUES (6, 'queued1', 1, 'w1', 1, 2, 'lost', 'silent')");
    db.exec("UPDATE tasks SET suspicious = 1, attempts_count = 1 WHERE key = 'queued1'");
  }
  ASSERT_OK(Open(path));
  EXPECT_EQ(store_->migrated_from(), 2);
  EXPECT_EQ(Int(path, "PRAGMA user_version"), schema::kCurrentVersion);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM attempts WHERE outcome = 'lost' AND blame = 'death'"), 1);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM attempts WHERE outcome <> 'lost' AND blame IS NOT NULL"), 0);
  EXPECT_EQ(Int(path, "SELECT deaths FROM tasks WHERE key = 'queued1'"), 1);
  EXPECT_EQ(Int(path, "SELECT sum(deaths) FROM tasks"), 1);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
  store_.reset();
  EXPECT_THROW(SQLite::Database(path, SQLite::OPEN_READWRITE)
                   .exec("UPDATE attempts SET blame = 'maybe' WHERE id = 1"),
               SQLite::Exception);
}

// Version 3 -> 4: the counter triggers go, the counters stay what the
// triggers made them, and from there the broker keeps them exact.
TEST_F(SchemaTest, AVersion3FileLosesItsCounterTriggersAndKeepsItsCountsExact) {
  const std::string path = Path("v3.db");
  WriteV1Fixture(path);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    SQLite::Transaction tx(db);
    db.exec(std::string(kSql_migrate_v2));
    db.exec(std::string(kSql_migrate_time));
    db.exec(std::string(kSql_migrate_v3));
    db.exec("PRAGMA user_version = 3");
    tx.commit();
    // A version 3 broker's change: counted by its triggers.
    db.exec("UPDATE tasks SET state = 'cancelled' WHERE key = 'q2'");
  }
  ASSERT_EQ(Int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 5);
  ASSERT_OK(Open(path));
  EXPECT_EQ(store_->migrated_from(), 3);
  EXPECT_EQ(Int(path, "PRAGMA user_version"), 4);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
  EXPECT_EQ(CounterMismatches(path), "");
  // The broker goes on from the counts the triggers left.
  WorkerRecord w = Worker("w1", {"gpu", "default"}, "s1");
  w.fns = {"echo"};
  ASSERT_OK(store_->Begin());
  bool same = false;
  ASSERT_OK(store_->RegisterWorker(w, kV1FixtureTime, &same));
  std::vector<Assignment> got;
  ASSERT_OK(store_->Claim(w, 10, kV1FixtureTime + 10'000, &got));
  int bad = 0;
  TaskSpec t = Task("new1", {"done1"});
  t.queue = "gpu";
  ASSERT_OK(store_->Submit({t}, kV1FixtureTime + 10'000, &bad));
  ASSERT_OK(store_->Commit());
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(CounterMismatches(path), "");
}

TEST_F(SchemaTest, AMigratedFileHasTheSameSchemaAsANewOne) {
  WriteV1Fixture(Path("old.db"));
  ASSERT_OK(Open(Path("old.db")));
  ASSERT_OK(Open(Path("new.db")));
  store_.reset();
  const auto migrated = SchemaOf(Path("old.db"));
  const auto fresh = SchemaOf(Path("new.db"));
  for (const auto& [what, def] : fresh) {
    auto it = migrated.find(what);
    if (it == migrated.end()) {
      ADD_FAILURE() << "a new file has " << what << " (" << def << "); a migrated one does not";
    } else {
      EXPECT_EQ(it->second, def) << what;
    }
  }
  for (const auto& [what, def] : migrated) {
    EXPECT_TRUE(fresh.count(what)) << "a migrated file has " << what << " (" << def
                                   << "); a new one does not";
  }
}

// Writes of tasks, attempts and workers build no ephemeral table (which a
// CHECK (x IN (...)) costs on every row written), and the constraints hold.
void ExpectPlainChecks(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  for (const char* sql : {
           "UPDATE tasks SET state = 'done', updated_at = 5 WHERE id = 3",
           "INSERT INTO attempts (task_id, task_key, attempt_no, worker, started_at, outcome) "
           "VALUES (1, 'k', 1, 'w', 1, 'running')",
           "UPDATE attempts SET outcome = 'done' WHERE id = 1",
           "UPDATE workers SET state = 'lost' WHERE name = 'w'"}) {
    SQLite::Statement code(db, std::string("EXPLAIN ") + sql);
    int ephemeral = 0;
    while (code.executeStep()) ephemeral += code.getColumn(1).getString() == "OpenEphemeral";
    EXPECT_EQ(ephemeral, 0) << path << ": " << sql;
  }
  EXPECT_THROW(db.exec("INSERT INTO tasks (key, state, spec, created_at, updated_at) "
                       "VALUES ('bad', 'bogus', '{}', 1, 1)"),
               SQLite::Exception);
  EXPECT_THROW(db.exec("INSERT INTO workers (name, pid, session, state, started_at, last_seen_at) "
                       "VALUES ('x', 1, 's', 'asleep', 1, 1)"),
               SQLite::Exception);
}

TEST_F(SchemaTest, NewAndUpgradedFilesCheckStatesWithoutEphemeralTables) {
  WriteV1Fixture(Path("old.db"));
  ASSERT_OK(Open(Path("old.db")));
  ASSERT_OK(Open(Path("new.db")));
  store_.reset();
  ExpectPlainChecks(Path("old.db"));
  ExpectPlainChecks(Path("new.db"));
}

TEST_F(SchemaTest, ANewFileReusesFreePagesIncrementally) {
  ASSERT_OK(Open(Path("new.db")));
  EXPECT_EQ(Int(Path("new.db"), "PRAGMA auto_vacuum"), 2);  // INCREMENTAL
  EXPECT_EQ(Int(Path("new.db"), "PRAGMA user_version"), schema::kCurrentVersion);
  EXPECT_EQ(store_->migrated_from(), 0);
}

TEST_F(SchemaTest, ANewerVersionIsRefusedAndLeftAlone) {
  const std::string path = Path("jobs.db");
  WriteV1Fixture(path);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 5");
  }
  Status s = Open(path);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_EQ(s.message(), path + " has schema version 5; this leaseq-broker knows up to 4: use a newer leaseq");
  EXPECT_EQ(Int(path, "PRAGMA user_version"), 5);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'paused_queues'"), 0);
}

TEST_F(SchemaTest, AFileWithTablesButNoVersionIsRefused) {
  const std::string path = Path("other.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE mine (x)");
  }
  Status s = Open(path);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("not a leaseq database"), std::string::npos) << s.message();
}

TEST_F(SchemaTest, AnUpgradeThatFailsChangesNothing) {
  const std::string path = Path("jobs.db");
  WriteV1Fixture(path);
  {
    // Something in the way of the second statement of the step.
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("CREATE TABLE queue_counts (x)");
  }
  Status s = Open(path);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(Int(path, "PRAGMA user_version"), 1);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'paused_queues'"), 0);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'tasks_finished'"), 0);
  EXPECT_EQ(Int(path, "SELECT count(*) FROM tasks"), kV1FixtureTasks);
}

TEST_F(SchemaTest, StepsGoOneVersionAtATimeUpToTheCurrentOne) {
  int expected = 2;
  for (const auto& step : schema::Steps()) {
    EXPECT_EQ(step.to_version, expected++);
    EXPECT_FALSE(step.scripts.empty());
  }
  EXPECT_EQ(expected - 1, schema::kCurrentVersion);
}

}  // namespace
}  // namespace leaseq::testing
