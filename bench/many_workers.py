#!/usr/bin/env python3
"""Many workers on one broker (issue 12, item 4): N real leaseq-worker
processes of one slot each on this machine, and what the broker does with
them. Prints one JSON object of figures; docs/benchmarks.md has a run.

  1. start N workers; time until all are registered (alive in `workers`);
     the median RSS of a worker;
  2. the broker's CPU with all of them idle and heartbeating, over IDLE_S;
  3. dispatch: TASKS `noop` function tasks through them, submit to all done,
     and the same on 2 workers x 4 slots in the same run (another broker);
  4. restart: a `sleep` task running on every worker (and one prefetched
     behind it), the broker SIGKILLed
     and restarted; time until every worker has registered again, and at
     the end: every task done once, no attempt lost.

Usage: python3 bench/many_workers.py --bin build/bin [--workers 1000] [--check]
       (make bench-many-workers; ctest -L scale runs it with --check, which
       fails unless every worker registered within 60 s, came back within
       30 s of the restart, and no attempt was lost or task done twice)
"""
import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import leaseq_bench as lb  # noqa: E402  (the process and broker helpers)


class Bins:
    def __init__(self, bin_dir):
        self.dir = os.path.abspath(bin_dir)

    def bin(self, name):
        return os.path.join(self.dir, name)


def now_ms():
    return int(time.time() * 1000)


def alive_since(broker, since_ms):
    return broker.query("SELECT count(*) FROM workers WHERE state = 'alive' AND last_seen_at >= ?",
                        (since_ms,))[0][0]


def start_workers(bins, broker, n, slots, dirpath, prefix):
    procs = []
    for i in range(n):
        procs.append(lb.PROCS.start(
            [bins.bin("leaseq-worker"), "--broker", broker.ep, "--slots", str(slots),
             "--name", f"{prefix}{i:04d}", "--drain-timeout-ms", "2000"],
            log_path=os.path.join(dirpath, f"{prefix}.log") if i < 4 else None))
    return procs


def submit_noops(bins, broker, dirpath, n, cmd=None):
    path = os.path.join(dirpath, f"tasks-{n}.jsonl")
    with open(path, "w") as f:
        for _ in range(n):
            f.write(json.dumps({"cmd": cmd} if cmd else {"fn": "noop"}) + "\n")
    p = lb.PROCS.start([bins.bin("leaseq-submit"), "--broker", broker.ep, "--file", path,
                        "--timeout-ms", "120000"])
    if p.wait(timeout=600) != 0:
        raise lb.BenchError(f"leaseq-submit exited with {p.returncode}")
    lb.PROCS.live.remove(p)


def throughput(bins, broker, dirpath, tasks):
    poller = lb.DbPoller(broker.db)
    before = poller.done()
    t0 = time.monotonic()
    submit_noops(bins, broker, dirpath, tasks)
    lb.wait_for(lambda: poller.done() - before >= tasks, 600, f"{tasks} noop tasks", 0.01)
    seconds = time.monotonic() - t0
    poller.close()
    return round(tasks / seconds)


def broker_cpu_percent(broker, seconds):
    _, t0 = lb._cpu_ticks(broker.p.pid)
    time.sleep(seconds)
    _, t1 = lb._cpu_ticks(broker.p.pid)
    return round(100.0 * (t1 - t0) / os.sysconf("SC_CLK_TCK") / seconds, 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--sleep-seconds", type=float, default=20,
                    help="length of the task each worker runs across the broker restart")
    ap.add_argument("--no-restart", action="store_true",
                    help="stop after step 3 (make bench's scale group)")
    ap.add_argument("--broker-arg", action="append", default=[],
                    help="an extra argument for both brokers (repeatable), e.g. "
                         "--broker-arg=--idle-heartbeat-factor=1 for the normal rate throughout")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless the promises of issue 12 item 4 held")
    a = ap.parse_args()
    bins = Bins(a.bin)
    out = {"workers": a.workers, "tasks": a.tasks}
    tmp = tempfile.mkdtemp(prefix="leaseq-many-")
    out["dir"] = tmp  # kept: the broker logs and databases
    try:
        # The reference shape, first: 2 workers x 4 slots.
        ref_dir = os.path.join(tmp, "ref")
        os.makedirs(ref_dir)
        ref = lb.Broker(bins, ref_dir, extra=a.broker_arg).start()
        ref_workers = start_workers(bins, ref, 2, 4, ref_dir, "ref")
        lb.wait_for(lambda: alive_since(ref, 0) == 2, 60, "2 reference workers")
        out["dispatch_2x4_tasks_per_s"] = throughput(bins, ref, ref_dir, a.tasks)
        for p in ref_workers:
            lb.PROCS.stop(p)
        ref.stop()

        big_dir = os.path.join(tmp, "many")
        os.makedirs(big_dir)
        broker = lb.Broker(bins, big_dir, extra=a.broker_arg).start()
        t0 = time.monotonic()
        workers = start_workers(bins, broker, a.workers, 1, big_dir, "w")
        out["start_all_processes_s"] = round(time.monotonic() - t0, 1)
        lb.wait_for(lambda: alive_since(broker, 0) == a.workers, 300,
                    f"{a.workers} workers registered", 0.1)
        out["all_registered_s"] = round(time.monotonic() - t0, 1)
        sample = workers[:: max(1, len(workers) // 20)]
        out["worker_rss_kb_median"] = statistics.median(lb.rss_kb(p.pid) for p in sample)
        out["broker_rss_kb"] = broker.rss_kb()
        time.sleep(3)  # the registration burst settles
        out["broker_cpu_idle_percent_of_a_core"] = broker_cpu_percent(broker, a.idle_seconds)
        out["dispatch_many_tasks_per_s"] = throughput(bins, broker, big_dir, a.tasks)
        out["dispatch_ratio_to_2x4"] = round(
            out["dispatch_many_tasks_per_s"] / out["dispatch_2x4_tasks_per_s"], 2)

        if a.no_restart:
            broker.stop()
            print(json.dumps(out))
            return
        # A long task running on every worker (and one prefetched behind
        # it), then the broker SIGKILLed.
        submit_noops(bins, broker, big_dir, 2 * a.workers,
                     cmd=["sleep", str(a.sleep_seconds)])
        lb.wait_for(lambda: broker.query(
            "SELECT count(DISTINCT worker) FROM attempts WHERE outcome = 'running' AND unstarted = 0")[0][0]
            >= a.workers, 120, "a task running on every worker", 0.1)
        # Leased is not yet received: the task messages of the last pass go
        # out after its commit. Give them time to reach the workers and the
        # commands time to start (a benchmark, not a test: a plain pause).
        time.sleep(3)
        broker.sigkill()
        restart_ms = now_ms()
        t1 = time.monotonic()
        broker.start()
        out["restart_to_listening_s"] = round(time.monotonic() - t1, 2)
        lb.wait_for(lambda: alive_since(broker, restart_ms) == a.workers, 120,
                    "every worker registered again", 0.1)
        out["restart_all_back_s"] = round(time.monotonic() - t1, 1)
        poller = lb.DbPoller(broker.db)
        lb.wait_for(lambda: poller.counts().get("done", 0) >= a.tasks + 2 * a.workers,
                    2 * a.sleep_seconds + 120, "the sleep tasks done", 0.2)
        poller.close()
        out["lost_attempts"] = broker.query(
            "SELECT count(*) FROM attempts WHERE outcome = 'lost'")[0][0]
        out["tasks_done"] = broker.query("SELECT count(*) FROM tasks WHERE state = 'done'")[0][0]
        out["tasks_stored"] = broker.query("SELECT count(*) FROM tasks")[0][0]
        out["sleep_tasks"] = 2 * a.workers
        out["sleep_attempts_by_outcome"] = dict(broker.query(
            "SELECT a.outcome || CASE WHEN a.unstarted THEN ' (prefetched)' ELSE '' END, count(*) "
            "FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.cmd IS NOT NULL GROUP BY 1"))
        out["tasks_done_twice"] = broker.query(
            "SELECT count(*) FROM (SELECT task_id FROM attempts WHERE outcome = 'done' "
            "GROUP BY task_id HAVING count(*) > 1)")[0][0]
        with open(broker.log, errors="replace") as f:
            after_restart = f.read().split("listening on")[-1]
        out["registers_after_restart"] = after_restart.count(" registered,") + after_restart.count(
            " reconnected,")
        out["attempts_kept_at_reregister"] = sum(
            int(line.split(" attempt(s) kept")[0].rsplit(" ", 1)[1])
            for line in after_restart.splitlines() if " attempt(s) kept" in line)
        broker.stop()
    finally:
        lb.PROCS.kill_all()
    print(json.dumps(out))
    if a.check:
        broken = [what for what, ok in [
            ("all registered within 60 s", out["all_registered_s"] <= 60),
            ("all back within 30 s of the restart", out["restart_all_back_s"] <= 30),
            ("no attempt lost", out["lost_attempts"] == 0),
            ("no task done twice", out["tasks_done_twice"] == 0),
            ("every task done", out["tasks_done"] == out["tasks_stored"]),
        ] if not ok]
        for what in broken:
            print("broken: " + what, file=sys.stderr)
        sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
