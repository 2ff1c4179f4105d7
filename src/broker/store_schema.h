// Schema versions of the broker's database, and their migrations.
//
// Contract: Prepare() leaves an open database at kCurrentVersion or refuses
// it. A new (empty) file gets auto_vacuum = INCREMENTAL and sql/schema.sql. A
// file of an older version is upgraded in place by the Steps() it needs, all
// of them and the user_version update in ONE transaction (a failure leaves
// the file as it was). A file of a newer version, or one that holds tables
// but no leaseq version, is refused with Status::Conflict and a message that
// says what to do; the broker exits 2 on it.
//
// Adding a version: write sql/migrate_vN.sql, embed it (CMakeLists.txt
// embed_sql), append {N, {kSql_migrate_vN}} to Steps(), bump kCurrentVersion,
// and change schema.sql to the same result. Adding statements to an
// unreleased version: append them to its file, or add a file to its step's
// list. store_schema_test.cc checks that a migrated file matches a new one.
//
// Not thread-safe: call on the connection's own thread (Store::Open does).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace SQLite {
class Database;
}

namespace leaseq::schema {

inline constexpr int kCurrentVersion = 4;

// One migration: what takes a file from to_version - 1 to to_version.
struct Step {
  int to_version;
  std::vector<std::string_view> scripts;  // run in order
};

// Before anything else touches the file (journal_mode = WAL writes it): a
// new, empty file gets auto_vacuum = INCREMENTAL, which SQLite accepts only
// before the first write. An existing file keeps its mode (a version 1 file
// has NONE; VACUUM, offline, converts it).
void SetUpNewFile(SQLite::Database& db);

// Every step, in order of version (the first goes to version 2).
const std::vector<Step>& Steps();

// name: the file as the user gave it, for messages. *migrated_from: the
// version the file had when it was upgraded, or 0 when nothing was migrated.
Status Prepare(SQLite::Database& db, const std::string& name, int* migrated_from);

}  // namespace leaseq::schema
