// Internal helpers shared by the store_*.cc files. Not part of the API.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/VariadicBind.h>
#include <sqlite3.h>

#include <exception>
#include <string>

#include "common/status.h"

// The condition of the partial index tasks_finished (sql/migrate_v2.sql),
// which a query must name, word for word, to use it: spliced into the SQL
// text of those queries.
#define LEASEQ_FINISHED "state <> 'waiting' AND state <> 'queued' AND state <> 'running'"

namespace leaseq::store_internal {

// Runs f, turning SQLite's (and JSON's) exceptions into a Status that names
// the operation. SQLITE_FULL reads as a full disk, which is what it is.
template <typename F>
Status Guarded(const char* what, F&& f) {
  try {
    return f();
  } catch (const SQLite::Exception& e) {
    std::string msg = std::string(what) + ": " + e.what();
    if (e.getErrorCode() == SQLITE_FULL) msg = std::string(what) + ": database or disk is full";
    if (e.getErrorCode() == SQLITE_READONLY) {
      msg = std::string(what) + ": the database cannot be written (read-only)";
    }
    return Status::IoError(msg);
  } catch (const std::exception& e) {
    return Status::IoError(std::string(what) + ": " + e.what());
  }
}

// The first line of a task's error (the rest is the tail of its stderr).
inline std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

inline std::string ColumnText(SQLite::Statement& q, int i) {
  return q.getColumn(i).isNull() ? std::string() : q.getColumn(i).getString();
}

}  // namespace leaseq::store_internal
