-- leaseq schema migration: version 3 -> 4, the task counters without
-- triggers. Run by the broker inside the upgrade's one transaction
-- (src/broker/store_schema.cc); schema.sql has the same result for new files.
--
-- task_state_counts and queue_counts were kept by five triggers: two or three
-- counter statements for every insert, state change and delete of a task.
-- The broker now adds a transaction's changes up in memory and writes each
-- changed counter once, in the same transaction, before it commits
-- (src/broker/state_counters.h). The tables stay as they are: the triggers
-- kept them exact up to this transaction, and from here the broker does.
DROP TRIGGER IF EXISTS tasks_count_insert;
DROP TRIGGER IF EXISTS tasks_count_update;
DROP TRIGGER IF EXISTS tasks_queue_count_insert;
DROP TRIGGER IF EXISTS tasks_queue_count_update;
DROP TRIGGER IF EXISTS tasks_count_delete;
