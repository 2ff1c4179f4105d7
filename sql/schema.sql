-- leaseq schema, version 4 (PRAGMA user_version). The broker creates it in a
-- new database file; it is compiled into the broker from this file. A file of
-- an older version is upgraded by the migrate_v*.sql steps instead, which must
-- lead to the same tables, columns, indexes and triggers (store_schema_test.cc
-- checks it): a change here is a change there too. The broker sets
-- auto_vacuum = INCREMENTAL before running this (it must precede every table).
-- CHECK constraints are written as comparisons, never "x IN (list)": SQLite
-- builds an ephemeral table to evaluate an IN list on every write of a row.
-- Times are integers: milliseconds since the Unix epoch (UTC).
-- Readers: see views.sql for the questions people usually ask.

CREATE TABLE tasks (
  id              INTEGER PRIMARY KEY,
  key             TEXT    NOT NULL UNIQUE,
  state           TEXT    NOT NULL CHECK (state = 'waiting' OR state = 'queued' OR state = 'running' OR state = 'done'
                    OR state = 'failed' OR state = 'cancelled'),
  cmd             TEXT,               -- JSON array of argv, or NULL for an in-process fn
  fn              TEXT,               -- in-process function name, or NULL
  input           BLOB    NOT NULL DEFAULT x'',
  queue           TEXT    NOT NULL DEFAULT 'default',
  priority        INTEGER NOT NULL DEFAULT 0,
  retries         INTEGER NOT NULL DEFAULT 0,  -- re-runs allowed after failed attempts
  errors          INTEGER NOT NULL DEFAULT 0,  -- failed attempts so far
  suspicious      INTEGER NOT NULL DEFAULT 0,  -- workers lost while running it
  attempts_count  INTEGER NOT NULL DEFAULT 0,  -- LEASEQ_ATTEMPT of the last attempt
  unfinished_deps INTEGER NOT NULL DEFAULT 0,  -- dependencies not yet done
  dep_count       INTEGER NOT NULL DEFAULT 0,  -- entries of `after` (0: no stdin to assemble)
  dependents      INTEGER NOT NULL DEFAULT 0,  -- tasks after this one (0: nothing to release)
  failed_dep      INTEGER,            -- the dependency whose failure failed this task
  -- Not dispatched before this time (a retry's backoff, or not_before); the
  -- broker sets it back to 0 once the time has come (see tasks_timed).
  ready_at        INTEGER NOT NULL DEFAULT 0,
  result          BLOB,               -- stdout of the successful attempt
  error           TEXT,
  spec            TEXT    NOT NULL,   -- canonical fields but input, for idempotent resubmission
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  -- Added for time limits and delayed tasks (sql/migrate_time.sql upgrades
  -- a file made before them).
  timeout_ms      INTEGER,            -- time limit of each attempt; NULL: the queue's default
  not_before      INTEGER,            -- not started before (--delay, --at); NULL: any time
  -- Added for blame (sql/migrate_v3.sql): the losses of `suspicious` whose
  -- worker's death is confirmed. Only these fail a task (allowed-failures).
  deaths          INTEGER NOT NULL DEFAULT 0
);

-- Dispatch: the next queued task of a queue by priority, without a scan.
-- Only tasks that are due (ready_at = 0) are in it: a million tasks delayed
-- to tomorrow, or in retry backoff, are never read past by dispatch.
CREATE INDEX tasks_dispatch ON tasks (queue, priority DESC, id)
  WHERE state = 'queued' AND ready_at = 0;
-- Queued tasks that are not due yet, by time: each loop pass wakes those
-- whose time has come (ready_at = 0 moves them into tasks_dispatch), and
-- `status` counts the delayed ones (not_before in the future), both as an
-- index range, never a scan of the tasks.
CREATE INDEX tasks_timed ON tasks (ready_at, not_before)
  WHERE state = 'queued' AND ready_at > 0;

-- Dependencies: task_id runs after dep_id; pos keeps the order of `after`
-- (stdin concatenates the results in that order).
CREATE TABLE task_deps (
  task_id INTEGER NOT NULL REFERENCES tasks (id),
  pos     INTEGER NOT NULL,
  dep_id  INTEGER NOT NULL REFERENCES tasks (id),
  PRIMARY KEY (task_id, pos)
) WITHOUT ROWID;
-- Release: the tasks waiting for a dependency, without a scan.
CREATE INDEX task_deps_by_dep ON task_deps (dep_id);

CREATE TABLE workers (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  pid          INTEGER NOT NULL,   -- the process that runs tasks (not its nanny)
  host         TEXT    NOT NULL DEFAULT '',
  session      TEXT    NOT NULL,   -- one per worker process; tells a restart from a reconnect
  state        TEXT    NOT NULL CHECK (state = 'alive' OR state = 'lost' OR state = 'gone'),
  slots        INTEGER NOT NULL DEFAULT 1,
  queues       TEXT    NOT NULL DEFAULT '["default"]',  -- JSON array
  fns          TEXT    NOT NULL DEFAULT '[]',           -- JSON array
  started_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL    -- last heard from; within 10 s for a worker that holds no task
);

-- One row per assignment of a task to a worker; the lease is the row's
-- lease_expires_at while outcome = 'running'.
CREATE TABLE attempts (
  id               INTEGER PRIMARY KEY,
  task_id          INTEGER NOT NULL REFERENCES tasks (id),
  task_key         TEXT    NOT NULL,
  attempt_no       INTEGER NOT NULL,   -- LEASEQ_ATTEMPT
  worker           TEXT    NOT NULL,   -- workers.name
  started_at       INTEGER NOT NULL,
  ended_at         INTEGER,
  outcome          TEXT    NOT NULL CHECK (outcome = 'running' OR outcome = 'done' OR outcome = 'error'
                     OR outcome = 'lost' OR outcome = 'released'),
  lease_expires_at INTEGER,
  -- 1 while the worker reports the attempt as prefetched, not started: a lost
  -- worker's unstarted attempts are released without suspicion.
  unstarted        INTEGER NOT NULL DEFAULT 0,
  exit_code        INTEGER,
  error            TEXT,
  -- Added for blame (sql/migrate_v3.sql). A lost attempt's evidence against
  -- its task: 'suspected' (the worker went away, not known dead: a
  -- partition looks the same), 'death' (its process died: counted in
  -- tasks.deaths) or 'withdrawn' (the worker came back: it did not die).
  -- NULL for every other outcome.
  blame            TEXT CHECK (blame IS NULL OR blame = 'suspected' OR blame = 'death' OR blame = 'withdrawn')
);
CREATE INDEX attempts_by_task ON attempts (task_id);
-- Losses waiting for a verdict, by worker (its return withdraws them, a new
-- session confirms them) and by time (silence confirms them). Small: only
-- suspected losses are in it.
CREATE INDEX attempts_suspected ON attempts (worker, ended_at) WHERE blame = 'suspected';
-- The running attempts (the leases), by worker: a lost worker, a goodbye, a
-- register; and reclaim, which reads this whole partial index for lapsed
-- leases. It holds only running attempts (at most the workers' credit), so
-- that read does not grow with the number of tasks or attempts stored.
CREATE INDEX attempts_running ON attempts (worker) WHERE outcome = 'running';

-- Counts of tasks by state, so that `status` never scans. Kept by the
-- broker, written in the same transaction as the change: every committed
-- transaction leaves n = the tasks in that state. The broker adds up a
-- transaction's changes in memory and writes each counter once, at commit
-- (src/broker/state_counters.h); there are no triggers (version 4 dropped
-- them: sql/migrate_v4.sql). A program other than the broker that inserts,
-- deletes or changes the state of tasks must update both counter tables in
-- its own transaction.
CREATE TABLE task_state_counts (
  state TEXT PRIMARY KEY,
  n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO task_state_counts (state, n) VALUES
  ('waiting', 0), ('queued', 0), ('running', 0), ('done', 0), ('failed', 0), ('cancelled', 0);

-- Queues from which nothing new is leased (leaseq-ctl pause / resume).
-- Durable, and small: the broker keeps it in memory and filters a worker's
-- queues by it at dispatch, without touching tasks.
CREATE TABLE paused_queues (
  queue     TEXT    PRIMARY KEY,
  paused_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Finished tasks by state, queue and the time they ended: `leaseq-ctl list`,
-- retry --state and purge (by age) read ranges of it. A task enters it once,
-- when it ends, so dispatch pays one insert per task. Partial, with a
-- condition that only those queries name (LEASEQ_FINISHED in
-- src/broker/store_internal.h), so that the planner never trades one of the
-- lookups by id for a range over a whole state. Not "state IN (...)": SQLite
-- builds an ephemeral table for an IN list of three on every write of a task
-- (it cost 39% more instructions per task), and plain comparisons do not.
CREATE INDEX tasks_finished ON tasks (state, queue, updated_at)
  WHERE state <> 'waiting' AND state <> 'queued' AND state <> 'running';
-- Waiting tasks by queue (list, cancel --queue). Only tasks with
-- dependencies pass through it. Queued tasks are found through
-- tasks_dispatch and running ones through attempts_running: neither state
-- needs another index on the hot path.
CREATE INDEX tasks_waiting ON tasks (queue, updated_at) WHERE state = 'waiting';

-- Counts of tasks by queue, function ('' for a command) and state, kept by
-- the broker like task_state_counts (same transaction): `status` per queue,
-- and the queued tasks that no live worker can serve, without a scan. A row
-- may hold n = 0 (readers take n > 0); a (queue, fn, state) with tasks
-- always has its row.
CREATE TABLE queue_counts (
  queue TEXT    NOT NULL,
  fn    TEXT    NOT NULL,
  state TEXT    NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, fn, state)
) WITHOUT ROWID;

PRAGMA user_version = 4;
