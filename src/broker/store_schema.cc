// Schema versions: a new file, an upgrade in one transaction, or a refusal.
#include "broker/store_schema.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "leaseq_schema_sql.h"

namespace leaseq::schema {

const std::vector<Step>& Steps() {
  // Version 2: pause, per-queue counters, retention indexes
  // (migrate_v2.sql), then time limits and delays (migrate_time.sql).
  static const std::vector<Step> steps = {
      {2, {kSql_migrate_v2, kSql_migrate_time}},
      // Version 3: blame (attempts.blame, tasks.deaths).
      {3, {kSql_migrate_v3}},
      // Version 4: the task counters kept by the broker, not by triggers.
      {4, {kSql_migrate_v4}},
  };
  return steps;
}

void SetUpNewFile(SQLite::Database& db) {
  if (db.execAndGet("PRAGMA page_count").getInt64() != 0) return;
  // Purged tasks leave free pages; with INCREMENTAL the broker gives them
  // back to the file system (PRAGMA incremental_vacuum after a purge).
  // SQLite takes this only before the file's first write.
  db.exec("PRAGMA auto_vacuum = INCREMENTAL");
}

namespace {

int UserVersion(SQLite::Database& db) { return db.execAndGet("PRAGMA user_version").getInt(); }

Status Migrate(SQLite::Database& db, const std::string& name, int* migrated_from) {
  // IMMEDIATE: no other connection writes between our reading the version
  // and the upgrade (two brokers started on one file at once).
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const int version = UserVersion(db);
  if (version == kCurrentVersion) return Status::Ok();
  for (const Step& step : Steps()) {
    if (step.to_version <= version) continue;
    for (std::string_view script : step.scripts) db.exec(std::string(script));
    db.exec("PRAGMA user_version = " + std::to_string(step.to_version));
  }
  if (UserVersion(db) != kCurrentVersion) {
    return Status::IoError("upgrading " + name + " from schema version " +
                           std::to_string(version) + " ended at version " +
                           std::to_string(UserVersion(db)) + ", not " +
                           std::to_string(kCurrentVersion) + " (a missing migration step)");
  }
  tx.commit();
  *migrated_from = version;
  return Status::Ok();
}

}  // namespace

Status Prepare(SQLite::Database& db, const std::string& name, int* migrated_from) {
  *migrated_from = 0;
  const int version = UserVersion(db);
  if (version <= 0) {
    if (version < 0 || db.execAndGet("SELECT count(*) FROM sqlite_master").getInt() > 0) {
      return Status::Conflict(name + " is not a leaseq database (it holds tables but no leaseq "
                                     "schema version): give leaseq-broker a new or a leaseq file");
    }
    SQLite::Transaction tx(db);
    db.exec(kSql_schema);
    tx.commit();
    if (UserVersion(db) != kCurrentVersion) {
      return Status::IoError("sql/schema.sql sets schema version " + std::to_string(UserVersion(db)) +
                             ", not " + std::to_string(kCurrentVersion));
    }
  } else if (version > kCurrentVersion) {
    return Status::Conflict(name + " has schema version " + std::to_string(version) +
                            "; this leaseq-broker knows up to " + std::to_string(kCurrentVersion) +
                            ": use a newer leaseq");
  } else if (version < kCurrentVersion) {
    Status s = Migrate(db, name, migrated_from);
    if (!s.ok()) return s;
  }
  db.exec(kSql_views);  // CREATE VIEW IF NOT EXISTS: new views reach old files
  return Status::Ok();
}

}  // namespace leaseq::schema
