"""A real Prometheus scrapes leaseq-broker --http during a run with failures
and a preempted worker; the values read back through Prometheus' own query
API must equal what the database says once the run has ended."""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

from http_cluster import Cluster, free_port, http, wait_for


class Prometheus:
    def __init__(self, work_dir, target):
        self.port = free_port()
        self.dir = os.path.join(work_dir, "prometheus")
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n"
                    "scrape_configs:\n  - job_name: leaseq\n    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=self.log)
        self.url = "http://127.0.0.1:%d" % self.port
        wait_for(lambda: self._ready(), 30, "Prometheus ready")

    def _ready(self):
        try:
            return http(self.url + "/-/ready")[0] == 200
        except OSError:
            return False

    def query(self, q):
        status, body = http(self.url + "/api/v1/query?query=" + urllib.parse.quote(q))
        assert status == 200, (q, status, body)
        return json.loads(body)["data"]["result"]

    def value(self, q):
        r = self.query(q)
        assert len(r) == 1, (q, r)
        return float(r[0]["value"][1])

    def stop(self):
        # By its pid; its data directory is the test's, thrown away.
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a = ap.parse_args()
    started = time.monotonic()
    # The normal heartbeat rate throughout (--idle-heartbeat-factor 1): an idle
    # worker at the idle rate may hand back a task that reached it after a
    # long silence (a release that is no reclaim), and the reclaim count
    # below assumes that nothing but a lost worker's tasks is released.
    c = Cluster(a.bin, broker_args=["--heartbeat-ms", "200", "--liveness", "3",
                                    "--idle-heartbeat-factor", "1"])
    prom = None
    try:
        c.start_broker()
        prom = Prometheus(c.dir, "127.0.0.1:%d" % c.http_port)
        for name in ["w1", "w2", "w3"]:
            c.worker(name, extra=["--queue", "a", "--queue", "b", "--prefetch", "0"])
        tasks = []
        for i in range(40):
            t = {"key": "t%d" % i, "queue": "a" if i % 2 else "b",
                 "cmd": ["sh", "-c", "sleep 0.3"]}
            if i % 7 == 3:
                t["cmd"] = ["sh", "-c", "sleep 0.05; echo boom >&2; exit 3"]
                t["retries"] = 1
            tasks.append(t)
        c.submit(tasks)
        # Preempt a worker while it runs a task (SIGKILL: no goodbye).
        victim = wait_for(lambda: c.query(
            "SELECT worker FROM attempts WHERE outcome = 'running' AND worker = 'w2' AND unstarted = 0 "
            "LIMIT 1"), 20, "w2 running")
        c.kill(victim)
        c.worker("w4", extra=["--queue", "a", "--queue", "b", "--prefetch", "0"])
        wait_for(lambda: c.query("SELECT count(*) FROM tasks WHERE state IN ('done', 'failed')") == 40, 60,
                 "every task ended")
        wait_for(lambda: c.query("SELECT state FROM workers WHERE name = 'w2'") == "lost", 20, "w2 lost")
        # The database is final now; one scrape after this moment is enough.
        end = time.time()
        wait_for(lambda: prom.query("timestamp(leaseq_commits_total) > %f" % end), 30, "a scrape after the run")

        checks = 0

        def same(q, want):
            nonlocal checks
            got = prom.value(q)
            assert got == want, "%s: Prometheus says %s, the database %s" % (q, got, want)
            checks += 1

        for state, n in c.rows("SELECT state, n FROM task_state_counts"):
            same('sum(leaseq_tasks{state="%s"})' % state, n)
        for queue, state, n in c.rows("SELECT queue, state, sum(n) FROM queue_counts GROUP BY queue, state"):
            same('leaseq_tasks{queue="%s",state="%s"}' % (queue, state), n)
        by_outcome = dict(c.rows("SELECT outcome, count(*) FROM attempts GROUP BY outcome"))
        for outcome in ["done", "error", "lost", "released"]:
            same('leaseq_attempts_total{outcome="%s"}' % outcome, by_outcome.get(outcome, 0))
        assert by_outcome.get("lost", 0) >= 1 and by_outcome.get("error", 0) >= 1, by_outcome
        same("leaseq_tasks_done_total", c.query("SELECT count(*) FROM tasks WHERE state = 'done'"))
        failed = c.query("SELECT count(*) FROM tasks WHERE state = 'failed'")
        same("leaseq_tasks_failed_total", failed)
        same('leaseq_tasks_retried_total{trigger="error"}', by_outcome.get("error", 0) - failed)
        same("leaseq_tasks_cancelled_total", 0)
        same("leaseq_workers_lost_total", c.query("SELECT count(*) FROM workers WHERE state = 'lost'"))
        same("leaseq_leases_reclaimed_total",
             # Without prefetch nothing is released but what a lost worker held.
             by_outcome.get("lost", 0) + by_outcome.get("released", 0))
        same('leaseq_workers{state="alive"}', c.query("SELECT count(*) FROM workers WHERE state = 'alive'"))
        same("leaseq_worker_slots", c.query("SELECT sum(slots) FROM workers WHERE state = 'alive'"))
        same("sum(leaseq_task_run_seconds_count)", by_outcome.get("done", 0) + by_outcome.get("error", 0))
        same("sum(leaseq_task_queue_wait_seconds_count)", c.query("SELECT count(*) FROM attempts WHERE attempt_no = 1"))
        for queue in ["a", "b"]:
            same('leaseq_task_run_seconds_count{queue="%s"}' % queue, c.query(
                "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id "
                "WHERE t.queue = ? AND a.outcome IN ('done', 'error')", (queue,)))
            same('leaseq_queue_oldest_queued_age_seconds{queue="%s"}' % queue, 0)
        # Histograms are cumulative: the +Inf bucket is the count.
        same('sum(leaseq_task_run_seconds_bucket{le="+Inf"})', by_outcome.get("done", 0) + by_outcome.get("error", 0))
        assert prom.value("leaseq_commits_total") > 0
        assert prom.value("leaseq_commit_duration_seconds_count") > 0
        assert prom.value("leaseq_database_size_bytes") > 0
        # Run times of about 0.3 s (0.05 s for the failing ones): none above
        # 0.1 s but the done ones, all within 5 s (a loaded machine).
        above = by_outcome["done"] - prom.value('sum(leaseq_task_run_seconds_bucket{le="0.1"})')
        assert 0 <= above <= by_outcome["done"] + by_outcome["error"], above
        same('sum(leaseq_task_run_seconds_bucket{le="5"})', by_outcome["done"] + by_outcome["error"])
        print("prometheus: %d values equal to the database (%d attempts: %s), %.1f s"
              % (checks, sum(by_outcome.values()), by_outcome, time.monotonic() - started))
    finally:
        if prom:
            prom.stop()
        c.close()


if __name__ == "__main__":
    sys.exit(main())
