#!/usr/bin/python3
"""Retention benchmark (`make bench-retention`; issue 8, docs/benchmarks.md).

    bench/retention_bench.py [--bin build/bin] [--tasks 1000000] [--retain 10s]
                             [--compare-tasks 200000] [--chunk 50000]
                             [--max-queued 25000] [--csv FILE] [--keep]

Shows that a queue that runs for ever at a steady rate keeps a steady file
size under `leaseq-broker --retain`: --tasks `noop` tasks go through one
broker (2 workers x 4 slots) as a steady stream, submitted in chunks of
--chunk with `leaseq-submit --file -`, the next chunk only once fewer than
--max-queued tasks are waiting, so the queue stays short instead of being
one backlog. Every second it records the time, the tasks finished so far,
the rows in `tasks`, the database file's size (and its free pages) and the
-wal file's size. Then the same without --retain (--compare-tasks tasks) for
comparison. Prints a table per run (every ~10% of the run) and the max and
final sizes; --csv FILE writes every sample of both runs.

Standard library only (run it with /usr/bin/python3). Every process it
starts runs in its own process group on a free 127.0.0.1 port and is killed
by its pid on exit, Ctrl-C or SIGTERM; nothing else is ever signalled.
"""
import argparse
import atexit
import csv
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MIB = 1024 * 1024


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


class Procs:
    """The processes this bench started (own session: group id = pid)."""

    def __init__(self):
        self.live = []

    def start(self, cmd, log_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL):
        err = open(log_path, "ab")
        p = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=err, start_new_session=True)
        err.close()
        self.live.append(p)
        return p

    def forget(self, p):
        if p in self.live:
            self.live.remove(p)

    def stop(self, p, sig=signal.SIGTERM, timeout=30.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        self.forget(p)

    def kill_all(self):
        for p in list(self.live):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.live.clear()


PROCS = Procs()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Reader:
    """A read-only connection to the broker's file, autocommit (WAL: it never
    blocks the broker, and holds no snapshot between samples)."""

    def __init__(self, db):
        try:
            self.con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5,
                                       isolation_level=None)
            self.con.execute("SELECT 1 FROM task_state_counts LIMIT 1").fetchall()
        except sqlite3.Error:
            self.con = sqlite3.connect(db, timeout=5, isolation_level=None)

    def counts(self):
        return dict(self.con.execute("SELECT state, n FROM task_state_counts"))

    def max_id(self):
        return self.con.execute("SELECT coalesce(max(id), 0) FROM tasks").fetchone()[0]

    def pragma(self, name):
        return self.con.execute(f"PRAGMA {name}").fetchone()[0]

    def close(self):
        self.con.close()


UNFINISHED = ("waiting", "queued", "running")


def run(args, name, n_tasks, retain, tmp):
    """One run: a broker (with --retain RETAIN, or none), 2 workers, n_tasks
    noop tasks as a throttled stream. Returns the samples (dicts)."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    db = os.path.join(d, "r.db")
    ep = f"tcp://127.0.0.1:{free_port()}"
    binp = lambda b: os.path.join(args.bin, b)  # noqa: E731
    cmd = [binp("leaseq-broker"), "--db", db, "--bind", ep]
    if retain:
        cmd += ["--retain", retain]
    blog = os.path.join(d, "broker.log")
    broker = PROCS.start(cmd, blog)

    def listening():
        if broker.poll() is not None:
            raise BenchError(f"broker exited with {broker.returncode}; see {blog}")
        with open(blog, errors="replace") as f:
            return f"listening on {ep}" in f.read()
    wait_for(listening, 60, "the broker to listen")
    workers = [PROCS.start([binp("leaseq-worker"), "--broker", ep, "--slots", str(args.slots),
                            "--name", f"w{i + 1}"], os.path.join(d, f"w{i + 1}.log"))
               for i in range(args.workers)]
    reader = Reader(db)
    wait_for(lambda: reader.con.execute("SELECT count(*) FROM workers WHERE state='alive'")
             .fetchone()[0] == args.workers, 30, "the workers to register")
    log(f"{name}: broker {shlex.join(cmd[1:])}, {args.workers} workers x {args.slots} slots, "
        f"{n_tasks:,} tasks in chunks of {args.chunk:,} (next one when queued < {args.max_queued:,})")

    chunk_paths = {}

    def chunk_file(n):
        if n not in chunk_paths:
            p = os.path.join(tmp, f"chunk-{n}.jsonl")
            if not os.path.exists(p):
                with open(p, "w") as f:
                    f.write('{"fn":"noop"}\n' * n)
            chunk_paths[n] = p
        return chunk_paths[n]

    samples = []
    submitted = 0          # tasks of the chunks handed to leaseq-submit
    inserted = 0           # tasks stored so far (max(id): ids only grow while some are kept)
    sub = None
    sub_in = None
    t0 = time.monotonic()
    next_sample = t0
    drained_at = None
    tail = (parse_seconds(retain) + 5) if retain else 2
    while True:
        now = time.monotonic()
        if broker.poll() is not None:
            raise BenchError(f"broker exited with {broker.returncode}; see {blog}")
        c = reader.counts()
        unfinished = sum(c.get(s, 0) for s in UNFINISHED)
        # The submitter: one chunk at a time, the next once the queue is short.
        if sub is not None and sub.poll() is not None:
            sub_in.close()
            PROCS.forget(sub)
            if sub.returncode != 0:
                with open(os.path.join(d, "submit.log"), errors="replace") as f:
                    tail = f.read()[-500:].strip()
                raise BenchError(f"leaseq-submit exited with {sub.returncode} at {now - t0:.0f} s "
                                 f"({submitted:,} submitted): {tail}")
            sub = None
        if sub is None and submitted < n_tasks and c.get("queued", 0) < args.max_queued:
            n = min(args.chunk, n_tasks - submitted)
            sub_in = open(chunk_file(n), "rb")
            # A generous time limit per try: the default (2.5 s, or 1 ms per 20
            # tasks) is short for a 50,000-task transaction on a loaded machine.
            sub = PROCS.start([binp("leaseq-submit"), "--broker", ep, "--timeout-ms",
                               str(args.submit_timeout_ms), "--file", "-"],
                              os.path.join(d, "submit.log"), stdin=sub_in)
            submitted += n
        if now >= next_sample:
            inserted = max(inserted, reader.max_id())
            s = {
                "run": name,
                "t": now - t0,
                "finished": inserted - unfinished,
                "unfinished": unfinished,
                "rows": sum(c.values()),
                "db": size(db),
                "wal": size(db + "-wal"),
                "free_pages": reader.pragma("freelist_count"),
                "page_size": reader.pragma("page_size"),
            }
            samples.append(s)
            next_sample += 1.0
            if len(samples) % 10 == 1:
                log(f"  {s['t']:6.0f} s  finished {s['finished']:>9,}  rows {s['rows']:>9,}  "
                    f"db {s['db'] / MIB:7.1f} MiB  wal {s['wal'] / MIB:6.1f} MiB")
        if drained_at is None and sub is None and submitted >= n_tasks and unfinished == 0 \
                and inserted >= n_tasks:
            drained_at = now
            log(f"{name}: all {n_tasks:,} finished after {now - t0:.1f} s "
                f"({n_tasks / (now - t0):,.0f} tasks/s); sampling {tail:.0f} s more")
        if drained_at is not None and now - drained_at >= tail:
            break
        if now - t0 > args.timeout:
            raise BenchError(f"{name}: not done after {args.timeout} s: {c}")
        time.sleep(0.05)
    reader.close()
    for w in workers:
        PROCS.stop(w)
    PROCS.stop(broker)
    # The last sample: after the broker's clean shutdown (its last checkpoint).
    samples.append({"run": name, "t": time.monotonic() - t0, "finished": n_tasks, "unfinished": 0,
                    "rows": samples[-1]["rows"], "db": size(db), "wal": size(db + "-wal"),
                    "free_pages": samples[-1]["free_pages"], "page_size": samples[-1]["page_size"],
                    "after_stop": True})
    run_s = drained_at - t0
    return samples, run_s


def parse_seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total, num = 0.0, ""
    i = 0
    while i < len(text):
        if text[i].isdigit():
            num += text[i]
            i += 1
            continue
        u = "ms" if text.startswith("ms", i) else text[i]
        total += int(num) * units[u]
        num = ""
        i += len(u)
    return total


def mib(b):
    return f"{b / MIB:.1f}"


def report(name, samples, run_s, n_tasks):
    """Markdown table: a row every ~10% of the run (and the tail), max, final."""
    live = [s for s in samples if not s.get("after_stop")]
    picks = []
    end = live[-1]["t"]
    for k in range(11):
        target = end * k / 10
        best = min(live, key=lambda s: abs(s["t"] - target))
        if best not in picks:
            picks.append(best)
    lines = [f"{name}: {n_tasks:,} tasks in {run_s:.1f} s ({n_tasks / run_s:,.0f} tasks/s)", "",
             "| time (s) | tasks finished | rows in tasks | db file (MiB) | free pages | -wal (MiB) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for s in picks:
        lines.append(f"| {s['t']:.0f} | {s['finished']:,} | {s['rows']:,} | {mib(s['db'])} | "
                     f"{s['free_pages']:,} | {mib(s['wal'])} |")
    last = samples[-1]
    lines.append(f"| after the broker stopped | {n_tasks:,} | {last['rows']:,} | {mib(last['db'])} | "
                 f"| {mib(last['wal'])} |")
    mdb = max(samples, key=lambda s: s["db"])
    mwal = max(samples, key=lambda s: s["wal"])
    mrows = max(samples, key=lambda s: s["rows"])
    lines += ["",
              f"max db file {mib(mdb['db'])} MiB (at {mdb['t']:.0f} s), max -wal {mib(mwal['wal'])} MiB "
              f"(at {mwal['t']:.0f} s), max rows {mrows['rows']:,} (at {mrows['t']:.0f} s); "
              f"final db {mib(live[-1]['db'])} MiB + -wal {mib(live[-1]['wal'])} MiB while running, "
              f"{mib(last['db'])} MiB + {mib(last['wal'])} MiB after the broker stopped"]
    # Growth in the second half of the stream (the steady state), if any.
    half = [s for s in live if run_s / 2 <= s["t"] <= run_s]
    if len(half) >= 2:
        g = (half[-1]["db"] - half[0]["db"]) / MIB
        lines.append(f"db file growth over the second half of the stream "
                     f"({half[0]['t']:.0f}-{half[-1]['t']:.0f} s, "
                     f"{half[-1]['finished'] - half[0]['finished']:,} tasks): {g:+.1f} MiB")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--tasks", type=int, default=1000000, help="tasks of the --retain run")
    ap.add_argument("--retain", default="10s", help="the broker's --retain (default 10s)")
    ap.add_argument("--compare-tasks", type=int, default=200000,
                    help="tasks of the run without --retain (default 200000; 0: skip it)")
    ap.add_argument("--chunk", type=int, default=50000, help="tasks per leaseq-submit (default 50000)")
    ap.add_argument("--max-queued", type=int, default=25000,
                    help="submit the next chunk once fewer tasks than this are queued (default 25000)")
    ap.add_argument("--submit-timeout-ms", type=int, default=60000,
                    help="leaseq-submit --timeout-ms (default 60000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run at most")
    ap.add_argument("--csv", default="", help="write every sample of both runs here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    atexit.register(PROCS.kill_all)
    tmp = tempfile.mkdtemp(prefix="leaseq-retention-")
    cmdline = shlex.join([os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:])
    log(f"retention bench, temp dir {tmp}")
    load0 = os.getloadavg()
    results = []
    rc = 0
    try:
        s, t = run(args, "retain", args.tasks, args.retain, tmp)
        results.append((f"with --retain {args.retain}", s, t, args.tasks))
        if args.compare_tasks > 0:
            s, t = run(args, "keep", args.compare_tasks, None, tmp)
            results.append(("without --retain", s, t, args.compare_tasks))
    except KeyboardInterrupt:
        log("interrupted: stopping everything it started")
        rc = 130
    except BenchError as e:
        log(f"error: {e}")
        rc = 1
    finally:
        PROCS.kill_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()
    if args.csv and results:
        fields = ["run", "t", "finished", "unfinished", "rows", "db", "wal", "free_pages",
                  "page_size", "after_stop"]
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for _, samples, _, _ in results:
                for row in samples:
                    w.writerow({**row, "t": f"{row['t']:.2f}"})
    print()
    print(f"leaseq retention benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine:  {os.cpu_count()} cores, Linux; SQLite (Python's) {sqlite3.sqlite_version}")
    print(f"command:  {cmdline}")
    print(f"load:     {load0[0]:.2f} at the start, {load1[0]:.2f} at the end")
    for title, samples, t, n in results:
        print()
        print(report(title, samples, t, n))
    return rc


if __name__ == "__main__":
    sys.exit(main())
