-- Upgrade of a schema-version-1 database for time limits and delayed tasks
-- (leaseq-submit --timeout / --delay / --at). To run inside the migration's
-- transaction, before user_version is raised; sql/schema.sql already has
-- the result for new files.
--
-- Two new columns, NULL for every existing task (no time limit beyond the
-- queue's default, no delay): the meaning of no existing column changes.
ALTER TABLE tasks ADD COLUMN timeout_ms INTEGER;  -- NULL: the queue's default
ALTER TABLE tasks ADD COLUMN not_before INTEGER;  -- NULL: any time

-- Dispatch now reads only tasks that are due (ready_at = 0). Queued tasks of
-- the old file whose ready_at is still set (a retry backoff, over or not)
-- are in tasks_timed and are woken by the broker's first loop pass.
DROP INDEX tasks_dispatch;
CREATE INDEX tasks_dispatch ON tasks (queue, priority DESC, id)
  WHERE state = 'queued' AND ready_at = 0;
CREATE INDEX tasks_timed ON tasks (ready_at, not_before)
  WHERE state = 'queued' AND ready_at > 0;
