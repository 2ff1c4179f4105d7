-- Views for the questions people ask with sqlite3 (read-only conveniences;
-- the tables are the interface). Times shown as UTC text.

-- How many tasks are in each state (kept by counters: instant at any size).
CREATE VIEW IF NOT EXISTS task_counts AS
  SELECT state, n FROM task_state_counts ORDER BY state;

-- Tasks that were running on a worker that died, most suspicious first.
CREATE VIEW IF NOT EXISTS suspicious_tasks AS
  SELECT key, state, suspicious, error FROM tasks
  WHERE suspicious > 0 ORDER BY suspicious DESC, key;

-- What each worker runs right now, with the lease's time left.
CREATE VIEW IF NOT EXISTS worker_tasks AS
  SELECT w.name AS worker, w.pid, w.state AS worker_state, a.task_key, a.attempt_no,
         datetime(a.started_at / 1000, 'unixepoch') AS started,
         (a.lease_expires_at - CAST(strftime('%s', 'now') AS INTEGER) * 1000) AS lease_ms_left
  FROM workers w LEFT JOIN attempts a ON a.worker = w.name AND a.outcome = 'running'
  ORDER BY w.name, a.id;

-- Every attempt of every task, oldest first, with readable times.
CREATE VIEW IF NOT EXISTS attempt_log AS
  SELECT task_key, attempt_no, worker, outcome, exit_code, error,
         strftime('%Y-%m-%d %H:%M:%f', started_at / 1000.0, 'unixepoch') AS started,
         strftime('%Y-%m-%d %H:%M:%f', ended_at / 1000.0, 'unixepoch') AS ended
  FROM attempts ORDER BY id;
