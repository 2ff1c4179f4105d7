-- leaseq schema migration: version 1 -> 2. The broker runs every step a file
-- needs, in order, in ONE transaction with the user_version update
-- (src/broker/store_schema.cc): a file is either upgraded whole or not at all.
-- A new file gets schema.sql instead, which must end up with the same tables,
-- columns, indexes and triggers (store_schema_test.cc compares the two).
--
-- Adding to version 2 (until it is released): append statements here, or
-- add another sql/*.sql file to this step's list in store_schema.cc (and to
-- embed_sql in CMakeLists.txt); mirror every change in schema.sql.

-- Faster writes: the CHECK constraints on tasks.state, attempts.outcome and
-- workers.state were "x IN (list)", which SQLite evaluates by building an
-- ephemeral table on every INSERT and UPDATE of a row (callgrind: 22% of
-- the instructions of a task's submit, lease and result). The same
-- constraints as plain comparisons, edited in place as SQLite documents for
-- changing a CHECK constraint ("Making Other Kinds Of Table Schema Changes",
-- https://www.sqlite.org/lang_altertable.html): no row changes, every
-- stored row satisfies both forms. The DDL below bumps the schema version,
-- so every connection reloads the schema; RESET reloads ours now. A file
-- whose text differs is left with the IN form (correct, only slower).
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (state IN
                    (''waiting'', ''queued'', ''running'', ''done'', ''failed'', ''cancelled''))',
  'CHECK (state = ''waiting'' OR state = ''queued'' OR state = ''running'' OR state = ''done''
                    OR state = ''failed'' OR state = ''cancelled'')')
  WHERE type = 'table' AND name = 'tasks';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (state IN (''alive'', ''lost'', ''gone''))',
  'CHECK (state = ''alive'' OR state = ''lost'' OR state = ''gone'')')
  WHERE type = 'table' AND name = 'workers';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (outcome IN
                     (''running'', ''done'', ''error'', ''lost'', ''released''))',
  'CHECK (outcome = ''running'' OR outcome = ''done'' OR outcome = ''error''
                     OR outcome = ''lost'' OR outcome = ''released'')')
  WHERE type = 'table' AND name = 'attempts';
PRAGMA writable_schema = RESET;

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
-- triggers like task_state_counts: `status` per queue, and the queued tasks
-- that no live worker can serve, without a scan.
CREATE TABLE queue_counts (
  queue TEXT    NOT NULL,
  fn    TEXT    NOT NULL,
  state TEXT    NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, fn, state)
) WITHOUT ROWID;
INSERT INTO queue_counts (queue, fn, state, n)
  SELECT queue, coalesce(fn, ''), state, count(*) FROM tasks GROUP BY 1, 2, 3;

CREATE TRIGGER tasks_queue_count_insert AFTER INSERT ON tasks BEGIN
  INSERT INTO queue_counts (queue, fn, state, n)
    VALUES (NEW.queue, coalesce(NEW.fn, ''), NEW.state, 1)
    ON CONFLICT (queue, fn, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tasks_queue_count_update AFTER UPDATE OF state ON tasks
  WHEN OLD.state <> NEW.state BEGIN
  UPDATE queue_counts SET n = n - 1
    WHERE queue = OLD.queue AND fn = coalesce(OLD.fn, '') AND state = OLD.state;
  INSERT INTO queue_counts (queue, fn, state, n)
    VALUES (NEW.queue, coalesce(NEW.fn, ''), NEW.state, 1)
    ON CONFLICT (queue, fn, state) DO UPDATE SET n = n + 1;
END;
-- Purge deletes finished tasks: both counters follow.
CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks BEGIN
  UPDATE task_state_counts SET n = n - 1 WHERE state = OLD.state;
  UPDATE queue_counts SET n = n - 1
    WHERE queue = OLD.queue AND fn = coalesce(OLD.fn, '') AND state = OLD.state;
END;
