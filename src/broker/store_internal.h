// Internal helpers shared by the store_*.cc files. Not part of the API.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/VariadicBind.h>
#include <sqlite3.h>

#include <exception>
#include <map>
#include <string>
#include <tuple>

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

// Rows per statement over many rows (a multi-row INSERT, an IN list): past
// this a statement's fixed cost is paid off (docs/benchmarks.md, fifth
// round), and it bounds both the parameters of one statement and the
// number of such statements the store keeps prepared (one per row count).
constexpr size_t kRowsPerStatement = 64;

// The text head + n copies of item joined by ", " + tail, for a statement
// over n rows (n <= kRowsPerStatement). Built once per (head, item, tail, n)
// and kept for the process's life: the store caches a statement by the
// address of its text. head, item and tail are literals. One thread (the
// store's).
inline const char* RepeatedSql(const char* head, const char* item, size_t n, const char* tail) {
  static std::map<std::tuple<const char*, const char*, const char*, size_t>, std::string> texts;
  std::string& text = texts[{head, item, tail, n}];
  if (text.empty()) {
    text = head;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) text += ", ";
      text += item;
    }
    text += tail;
  }
  return text.c_str();
}

// The first line of a task's error (the rest is the tail of its stderr).
inline std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

inline std::string ColumnText(SQLite::Statement& q, int i) {
  return q.getColumn(i).isNull() ? std::string() : q.getColumn(i).getString();
}

}  // namespace leaseq::store_internal
