-- leaseq schema migration: version 2 -> 3, blame that knows a partition from
-- a death. Run by the broker inside the upgrade's one transaction
-- (src/broker/store_schema.cc); schema.sql has the same result for new files.
--
-- A lost attempt now records its blame, and a task counts its confirmed
-- deaths apart from its suspicion: only deaths fail a task.
ALTER TABLE tasks ADD COLUMN deaths INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN blame TEXT CHECK (blame IS NULL OR blame = 'suspected' OR blame = 'death' OR blame = 'withdrawn');
-- The old file's losses were all counted against their tasks (the old rule
-- knew no other): they stay so, as deaths, and no task changes its fate.
UPDATE attempts SET blame = 'death' WHERE outcome = 'lost';
UPDATE tasks SET deaths = suspicious WHERE suspicious > 0;
CREATE INDEX attempts_suspected ON attempts (worker, ended_at) WHERE blame = 'suspected';
