// Test fixture: a database file as the version 1 broker left it, made from
// the frozen sql/schema_v1.sql, with a task in every state (and attempts,
// dependencies, a worker), for the migration tests (unit and integration).
// Header-only, for tests; not thread-safe.
//
//   key     state      queue  notes
//   done1   done       default  result "R1\n", one done attempt
//   fail1   failed     default  error "exit status 3: boom\nmore", one error attempt
//   canc1   cancelled  default
//   run1    running    default  attempt running on w1, lease far in the future
//   wait1   waiting    default  after run1
//   queued1 queued     gpu      fn "echo", input "hi"
//   q2      queued     default  priority 5
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <string>

#include "leaseq_schema_sql.h"

namespace leaseq::testing {

inline constexpr int64_t kV1FixtureTime = 1'700'000'000'000;
inline constexpr int kV1FixtureTasks = 7;

inline void WriteV1Fixture(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL");  // as the version 1 broker set it
  SQLite::Transaction tx(db);
  db.exec(kSql_schema_v1);
  db.exec(R"sql(
    INSERT INTO workers (name, pid, host, session, state, slots, queues, fns, started_at, last_seen_at)
      VALUES ('w1', 4242, 'h', 's1', 'alive', 2, '["default","gpu"]', '["echo"]', 1700000000000, 1700000000000);
    INSERT INTO tasks (id, key, state, cmd, fn, input, queue, priority, retries, errors, attempts_count,
                       unfinished_deps, dep_count, dependents, result, error, spec, created_at, updated_at)
    VALUES
      (1, 'done1', 'done', '["echo","R1"]', NULL, x'', 'default', 0, 0, 0, 1, 0, 0, 0, x'52310a', NULL,
       '{"cmd":["echo","R1"]}', 1700000000000, 1700000001000),
      (2, 'fail1', 'failed', '["sh","-c","exit 3"]', NULL, x'', 'default', 0, 0, 1, 1, 0, 0, 0, NULL,
       'exit status 3: boom' || char(10) || 'more', '{"cmd":["sh"]}', 1700000000000, 1700000002000),
      (3, 'canc1', 'cancelled', '["sleep","9"]', NULL, x'', 'default', 0, 0, 0, 0, 0, 0, 0, NULL,
       'cancelled', '{"cmd":["sleep","9"]}', 1700000000000, 1700000003000),
      (4, 'run1', 'running', '["sleep","1"]', NULL, x'', 'default', 0, 0, 0, 1, 0, 0, 1, NULL, NULL,
       '{"cmd":["sleep","1"]}', 1700000000000, 1700000004000),
      (5, 'wait1', 'waiting', '["cat"]', NULL, x'', 'default', 0, 0, 0, 0, 1, 1, 0, NULL, NULL,
       '{"cmd":["cat"],"after":["run1"]}', 1700000000000, 1700000000000),
      (6, 'queued1', 'queued', NULL, 'echo', x'6869', 'gpu', 0, 0, 0, 0, 0, 0, 0, NULL, NULL,
       '{"fn":"echo"}', 1700000000000, 1700000000000),
      (7, 'q2', 'queued', '["true"]', NULL, x'', 'default', 5, 0, 0, 0, 0, 0, 0, NULL, NULL,
       '{"cmd":["true"],"priority":5}', 1700000000000, 1700000005000);
    INSERT INTO task_deps (task_id, pos, dep_id) VALUES (5, 0, 4);
    INSERT INTO attempts (task_id, task_key, attempt_no, worker, started_at, ended_at, outcome,
                          lease_expires_at, unstarted, exit_code, error)
    VALUES
      (1, 'done1', 1, 'w1', 1700000000500, 1700000001000, 'done', NULL, 0, 0, NULL),
      (2, 'fail1', 1, 'w1', 1700000000500, 1700000002000, 'error', NULL, 0, 3, 'exit status 3: boom'),
      (4, 'run1', 1, 'w1', 1700000003500, NULL, 'running', 4000000000000, 0, NULL, NULL);
  )sql");
  tx.commit();
}

}  // namespace leaseq::testing
