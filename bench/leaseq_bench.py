#!/usr/bin/python3
"""leaseq's benchmark suite (`make bench`; issue 3, docs/benchmarks.md).

    bench/leaseq_bench.py [--bin build/bin] [--quick] [--runs N]
                          [--only GROUP,...] [--json FILE] [--keep]

Starts its own brokers, workers and peers (Dask's LocalCluster, beanstalkd)
in a temporary directory on free loopback ports, measures every figure of
issue 3 a few times (the median is shown), and prints ONE table with the
targets and the ratios to the peers measured in the same run. --quick: small
sizes, one run each (a smoke check, under 2 minutes). Groups (--only):
throughput, peers, command, latency, fan, big (memory, submission,
restart), kill, http, scale (1,000 one-slot workers: bench/many_workers.py).

Standard library only; run it with Debian's /usr/bin/python3 (the one that
has python3-distributed). Every wait has a deadline; every process it starts
runs in its own process group and is killed on exit, Ctrl-C or SIGTERM.
"""
import argparse
import atexit
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GROUPS = ["throughput", "peers", "command", "latency", "fan", "big", "kill", "http", "scale"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

class Procs:
    """Every process the bench starts: own session (process group = pid), so
    that a worker's nanny child, Dask's worker processes and the tasks go
    with it. Killed by group id on exit; nothing else is ever signalled."""

    def __init__(self):
        self.live = []

    def start(self, cmd, log_path=None, stdout=None, env=None):
        err = open(log_path, "ab") if log_path else subprocess.DEVNULL
        out = stdout if stdout is not None else err
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=env)
        if log_path:
            err.close()
        self.live.append(p)
        return p

    def send(self, p, sig):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, p, sig=signal.SIGTERM, timeout=10.0):
        """sig to the group, wait up to timeout, then SIGKILL the group."""
        self.send(p, sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.send(p, signal.SIGKILL)
            p.wait(timeout=10)
        # The group may outlive its leader (a nanny's child): finish it.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p in self.live:
            self.live.remove(p)

    def kill_all(self):
        for p in list(self.live):
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


FOREIGN_NAMES = ("leaseq-chaos", "leaseq-broker", "leaseq-worker", "ctest", "cc1plus", "ld",
                 "integration_test", "perf", "valgrind")


def _cpu_ticks(pid):
    """(the main thread's, the whole process's) utime + stime in ticks: the
    broker's main thread is its loop."""
    def ticks(path):
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    return ticks(f"/proc/{pid}/task/{pid}/stat"), ticks(f"/proc/{pid}/stat")


def _stat(pid):
    """(ppid, utime + stime in ticks) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def foreign_cpu():
    """{pid: (name, cpu ticks)} of the heavy programs (FOREIGN_NAMES) running
    on the machine that do not descend from this process. Read from /proc."""
    me = os.getpid()
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        name = os.path.basename(argv0)
        if name not in FOREIGN_NAMES:
            continue
        st = _stat(pid)
        if st is None:
            continue
        p, hops = st[0], 0
        while p > 1 and p != me and hops < 64:
            up = _stat(p)
            p, hops = (up[0] if up else 0), hops + 1
        if p != me:
            found[int(pid)] = (name, st[1])
    return found


class ForeignSampler:
    """Every 0.5 s, which foreign heavy programs used CPU (over 10% of a core
    since the last sample; a new compiler or chaos run counts at once)."""

    INTERVAL = 0.5

    def __init__(self):
        import threading
        self._lock = threading.Lock()
        self._seen = set()
        self._last = set()
        self._prev = foreign_cpu()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(self.INTERVAL):
            now = foreign_cpu()
            busy = set()
            for pid, (name, ticks) in now.items():
                old = self._prev.get(pid)
                if old is None and name in ("leaseq-chaos", "ctest", "cc1plus", "ld", "perf", "valgrind"):
                    busy.add(name)
                elif (ticks - (old[1] if old else 0)) / tick >= 0.1 * self.INTERVAL:
                    busy.add(name)
            self._prev = now
            with self._lock:
                self._last = busy
                self._seen |= busy

    def reset(self):
        with self._lock:
            self._seen = set(self._last)

    def seen(self):
        with self._lock:
            return sorted(self._seen)

    def busy_now(self):
        with self._lock:
            return sorted(self._last)

    def stop(self):
        self._stop.set()
        self._t.join(timeout=2)


def wait_quiet(sampler, max_seconds):
    """Waits (at most max_seconds) until no foreign heavy work has run for 10 s."""
    deadline = time.monotonic() + max_seconds
    quiet_since = time.monotonic()
    logged = False
    while time.monotonic() < deadline:
        busy = sampler.busy_now()
        if busy:
            quiet_since = time.monotonic()
            if not logged:
                log(f"  waiting (at most {max_seconds:.0f} s) for other work to end: {', '.join(busy)}")
                logged = True
        elif time.monotonic() - quiet_since >= (10 if logged else 0):
            return
        time.sleep(ForeignSampler.INTERVAL)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, interval=0.005):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run_json(cmd, timeout):
    """Runs a measuring program in its own group; returns its JSON line."""
    p = PROCS.start(cmd, stdout=subprocess.PIPE)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        PROCS.stop(p, signal.SIGKILL)
        raise BenchError(f"{os.path.basename(cmd[0])} did not finish within {timeout} s")
    PROCS.live.remove(p)
    if p.returncode != 0:
        raise BenchError(f"{shlex.join(cmd)} exited with {p.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1])


def dask_python():
    """This interpreter if it has distributed, else Debian's (python3-distributed)."""
    import importlib.util
    if importlib.util.find_spec("distributed") is not None:
        return sys.executable
    return "/usr/bin/python3"


# ---------------------------------------------------------------- leaseq

class Broker:
    def __init__(self, bench, dirpath, sync="normal", db=None, port=None, extra=()):
        self.bench = bench
        self.dir = dirpath
        self.db = db or os.path.join(dirpath, "leaseq.db")
        self.port = port or free_port()
        self.ep = f"tcp://127.0.0.1:{self.port}"
        self.sync = sync
        self.extra = list(extra)
        self.log = os.path.join(dirpath, "broker.log")
        self.p = None

    def start(self, wait=True):
        self.p = PROCS.start([self.bench.bin("leaseq-broker"), "--db", self.db, "--bind", self.ep,
                              "--sync", self.sync] + self.extra, log_path=self.log)
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout=60):
        mark = f"listening on {self.ep}"

        def ok():
            if self.p.poll() is not None:
                raise BenchError(f"broker exited with {self.p.returncode}; see {self.log}")
            with open(self.log, errors="replace") as f:
                return f.read().count(mark) >= self.starts
        self.starts = getattr(self, "starts", 0) + 1
        wait_for(ok, timeout, "the broker to listen")

    def stop(self):
        if self.p:
            PROCS.stop(self.p, signal.SIGTERM, timeout=30)
            self.p = None

    def sigkill(self):
        if self.p:
            PROCS.stop(self.p, signal.SIGKILL)
            self.p = None

    def rss_kb(self, field="VmRSS"):
        return rss_kb(self.p.pid, field)

    def query(self, sql, args=()):
        con = sqlite3.connect(self.db, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()


class DbPoller:
    """A reader kept open on the broker's database (WAL: never blocks it)."""

    def __init__(self, db):
        self.con = sqlite3.connect(db, timeout=5, isolation_level=None)

    def done(self):
        return self.con.execute("SELECT n FROM task_state_counts WHERE state='done'").fetchone()[0]

    def counts(self):
        return dict(self.con.execute("SELECT state, n FROM task_state_counts"))

    def one(self, sql, args=()):
        return self.con.execute(sql, args).fetchone()

    def close(self):
        self.con.close()


def write_lines(path, lines):
    with open(path, "w") as f:
        for line in lines:
            f.write(line)
            f.write("\n")
    return path


def noop_file(path, n):
    with open(path, "w") as f:
        f.write('{"fn":"noop"}\n' * n)
    return path


def start_workers(bench, broker, n=2, slots=4, kind="worker", extra=(), names=None):
    ws = []
    for i in range(n):
        name = names[i] if names else f"w{i + 1}"
        if kind == "worker":
            cmd = [bench.bin("leaseq-worker"), "--broker", broker.ep, "--slots", str(slots),
                   "--name", name] + list(extra)
        else:
            cmd = [bench.bin("leaseq-instant-worker"), "--broker", broker.ep, "--slots",
                   str(slots), "--name", name, "--seconds", "3600"]
        ws.append(PROCS.start(cmd, log_path=os.path.join(broker.dir, f"{name}.log")))
    want = [names[i] if names else f"w{i + 1}" for i in range(n)]
    qs = ",".join("?" * len(want))
    wait_for(lambda: broker.query(f"SELECT count(*) FROM workers WHERE state='alive' AND name IN ({qs})",
                                  want)[0][0] == n, 30, "the workers to register", 0.02)
    return ws


def stop_all(ws):
    for w in ws:
        PROCS.stop(w, signal.SIGTERM, timeout=30)


def timed_submit_until_done(bench, broker, path, total, timeout):
    """Seconds from the start of leaseq-submit --file to `total` tasks done."""
    poll = DbPoller(broker.db)
    try:
        base = poll.done()
        t0 = time.monotonic()
        sub = PROCS.start([bench.bin("leaseq-submit"), "--broker", broker.ep, "--file", path],
                          stdout=subprocess.DEVNULL, log_path=os.path.join(broker.dir, "submit.log"))
        t_sub = None
        deadline = t0 + timeout
        while True:
            if t_sub is None and sub.poll() is not None:
                t_sub = time.monotonic() - t0
                if sub.returncode != 0:
                    raise BenchError(f"leaseq-submit exited with {sub.returncode}; see "
                                     f"{broker.dir}/submit.log")
            n = poll.done() - base
            if n >= total:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"only {n} of {total} tasks done after {timeout} s: "
                                 f"{poll.counts()}")
            time.sleep(0.002)
        t1 = time.monotonic() - t0
        if t_sub is None:
            sub.wait(timeout=60)
            t_sub = time.monotonic() - t0
        PROCS.live.remove(sub)
        return t1, t_sub
    finally:
        poll.close()


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.bindir = os.path.abspath(args.bin)
        self.tmp = tempfile.mkdtemp(prefix="leaseq-bench-")
        self.results = {}  # name -> list of values
        self.notes = {}
        self._buffers = {}
        self.foreign = set()
        self.flagged = set()
        q = args.quick
        self.runs = args.runs or (1 if q else 3)
        self.sz = {
            "tp": 10000 if q else 100000,
            "dask_default": 3000 if q else 100000,
            "dask_inf": 5000 if q else 100000,
            "bs": 10000 if q else 100000,
            "cmd": 1000 if q else 10000,
            "lat": 200 if q else 1000,
            "fan": 2000 if q else 10000,
            "mem_small": 10000 if q else 100000,
            "big": 100000 if q else 1000000,
            "leases": 100 if q else 1000,
            "chunk": 10000 if q else 100000,
            "scale_tasks": 5000 if q else 20000,
        }
        self.big_runs = 1 if q else min(self.runs, 2)
        self.dask_default_runs = 1
        self.restarts = 1 if q else 3

    def bin(self, name):
        p = os.path.join(self.bindir, name)
        if not os.access(p, os.X_OK):
            raise BenchError(f"{p} is missing: build first (make build)")
        return p

    def rundir(self, name):
        d = tempfile.mkdtemp(prefix=name + "-", dir=self.tmp)
        return d

    def add(self, name, value):
        self.results.setdefault(name, []).append(value)

    def med(self, name):
        v = self.results.get(name)
        return statistics.median(v) if v else None

    # -- throughput: leaseq

    def leaseq_noop(self, sync, kind="worker"):
        n = self.sz["tp"]
        d = self.rundir(f"tp-{sync}-{kind}")
        path = noop_file(os.path.join(d, "tasks.jsonl"), n)
        b = Broker(self, d, sync=sync).start()
        ws = start_workers(self, b, 2, 4, kind)
        try:
            secs, sub = timed_submit_until_done(self, b, path, n, timeout=300)
        finally:
            stop_all(ws)
            b.stop()
        return n / secs, sub

    def leaseq_noop_queued(self):
        """Execution alone: the tasks are queued before the workers start;
        seconds from the start of the workers to all done."""
        n = self.sz["tp"]
        d = self.rundir("tp-queued")
        path = noop_file(os.path.join(d, "tasks.jsonl"), n)
        b = Broker(self, d).start()
        ws = []
        try:
            subprocess.run([self.bin("leaseq-submit"), "--broker", b.ep, "--file", path],
                           stdout=subprocess.DEVNULL, check=True, timeout=300)
            poll = DbPoller(b.db)
            try:
                t0 = time.monotonic()
                ws = start_workers(self, b, 2, 4)
                wait_for(lambda: poll.done() >= n, 300, f"{n} queued tasks done", 0.002)
                secs = time.monotonic() - t0
            finally:
                poll.close()
        finally:
            stop_all(ws)
            b.stop()
        return n / secs

    def g_throughput(self, r):
        rate = self.leaseq_noop_queued()
        self.add("tp_queued", rate)
        log(f"  leaseq noop, execution alone (already queued): {rate:,.0f} tasks/s")
        for sync in ("normal", "full"):
            rate, sub = self.leaseq_noop(sync)
            self.add(f"tp_{sync}", rate)
            self.add(f"tp_{sync}_submit_s", sub)
            log(f"  leaseq noop sync={sync}: {rate:,.0f} tasks/s (submit {sub:.2f} s)")
        rate, _ = self.leaseq_noop("normal", "instant")
        self.add("tp_instant", rate)
        log(f"  broker ceiling (instant workers): {rate:,.0f} tasks/s")
        # The store alone (no sockets): what the SQL of a lease and a result
        # costs per task, by pass size (bench/store_bench.cc).
        for per_pass in (16, 64):
            j = run_json([self.bin("leaseq-bench-store"), "--db",
                          os.path.join(self.rundir(f"store-{per_pass}"), "q.db"),
                          "--tasks", str(self.sz["tp"]), "--per-pass", str(per_pass)], 300)
            self.add(f"store_us_{per_pass}", j["cpu_us_per_task"])
            log(f"  the store alone, passes of {per_pass}: {j['cpu_us_per_task']:.1f} us CPU per task")

    # -- throughput: peers

    def dask(self, n, inf):
        cmd = [dask_python(), os.path.join(HERE, "dask_peer.py"), "--tasks", str(n)]
        if inf:
            cmd.append("--saturation-inf")
        out = run_json(cmd, timeout=1200)
        self.notes["dask"] = out["distributed"]
        return out["rate"]

    def beanstalk(self, fsync_ms, window=64):
        d = self.rundir(f"beanstalkd-f{fsync_ms}")
        port = free_port()
        cmd = ["beanstalkd", "-l", "127.0.0.1", "-p", str(port), "-b", d]
        if fsync_ms != 50:
            cmd += ["-f", str(fsync_ms)]
        bs = PROCS.start(cmd, log_path=os.path.join(d, "beanstalkd.log"))

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                if bs.poll() is not None:
                    raise BenchError("beanstalkd exited at start")
                return False
        try:
            wait_for(up, 10, "beanstalkd")
            out = run_json([self.bin("leaseq-bench-beanstalk"), "--port", str(port), "--jobs",
                            str(self.sz["bs"]), "--procs", "2", "--conns", "4", "--window", str(window),
                            "--seconds", "600"], timeout=660)
        finally:
            PROCS.stop(bs, signal.SIGTERM)
        return out["rate"]

    def g_peers(self, r):
        for fsync_ms, what in ((50, "fsync every 50 ms"), (0, "-f 0, fsync every write")):
            for window in (64, 1):
                rate = self.beanstalk(fsync_ms, window)
                self.add(f"bs_f{fsync_ms}" + ("" if window > 1 else "_w1"), rate)
                log(f"  beanstalkd -b ({what}), {window} put(s) in flight: {rate:,.0f} jobs/s")
        rate = self.dask(self.sz["dask_inf"], True)
        self.add("dask_inf", rate)
        log(f"  Dask worker-saturation inf: {rate:,.0f} tasks/s")
        if r < self.dask_default_runs:
            rate = self.dask(self.sz["dask_default"], False)
            self.add("dask_default", rate)
            log(f"  Dask default: {rate:,.0f} tasks/s")

    # -- command tasks

    def g_command(self, r):
        n = self.sz["cmd"]
        d = self.rundir("cmd")
        path = write_lines(os.path.join(d, "tasks.jsonl"), ['{"cmd":["/bin/true"]}'] * n)
        b = Broker(self, d).start()
        ws = start_workers(self, b, 2, 4)
        try:
            secs, _ = timed_submit_until_done(self, b, path, n, timeout=300)
        finally:
            stop_all(ws)
            b.stop()
        self.add("cmd_leaseq", n / secs)
        for method in ("fork", "posix_spawn", "runner"):
            out = run_json([self.bin("leaseq-bench-spawn"), "--count", str(n), "--parallel", "8",
                            "--method", method], timeout=300)
            self.add(f"cmd_raw_{method}", out["rate"])
        log(f"  /bin/true: leaseq {n / secs:,.0f}/s, raw fork+exec {self.results['cmd_raw_fork'][-1]:,.0f}/s,"
            f" raw posix_spawn {self.results['cmd_raw_posix_spawn'][-1]:,.0f}/s,"
            f" the worker's ProcessRunner alone {self.results['cmd_raw_runner'][-1]:,.0f}/s")

    # -- latency

    def g_latency(self, r):
        d = self.rundir("latency")
        b = Broker(self, d).start()
        ws = start_workers(self, b, 2, 4)
        try:
            time.sleep(0.5)
            out = run_json([self.bin("leaseq-bench-latency"), "--broker", b.ep, "--tasks",
                            str(self.sz["lat"]), "--warmup", "50"], timeout=300)
            out2 = run_json([self.bin("leaseq-bench-latency"), "--broker", b.ep, "--tasks",
                             str(max(50, self.sz["lat"] // 5)), "--warmup", "10",
                             "--client-per-call"], timeout=300)
        finally:
            stop_all(ws)
            b.stop()
        s = out["submit_to_done"]
        self.add("lat_p50", s["p50_us"] / 1e6)
        self.add("lat_p99", s["p99_us"] / 1e6)
        self.add("lat_ack_p50", out["submit_to_ack"]["p50_us"] / 1e6)
        self.add("lat_polls", out["fetch_polls_per_task"])
        self.add("lat_cpc_p50", out2["submit_to_done"]["p50_us"] / 1e6)
        self.add("lat_cpc_p99", out2["submit_to_done"]["p99_us"] / 1e6)
        log(f"  latency noop: p50 {s['p50_us'] / 1000:.3f} ms, p99 {s['p99_us'] / 1000:.3f} ms "
            f"(ack p50 {out['submit_to_ack']['p50_us'] / 1000:.3f} ms, "
            f"{out['fetch_polls_per_task']:.1f} fetches/task); new connection per request: "
            f"p50 {out2['submit_to_done']['p50_us'] / 1000:.3f} ms")

    # -- fan-in / fan-out

    def g_fan(self, r):
        n = self.sz["fan"]
        for shape in ("in", "out"):
            d = self.rundir(f"fan{shape}")
            if shape == "in":
                lines = [f'{{"key":"a{i}","fn":"noop"}}' for i in range(n)]
                lines.append(json.dumps({"key": "sink", "fn": "noop",
                                         "after": [f"a{i}" for i in range(n)]}))
            else:
                lines = ['{"key":"src","fn":"noop"}']
                lines += [f'{{"key":"b{i}","fn":"noop","after":["src"]}}' for i in range(n)]
            path = write_lines(os.path.join(d, "tasks.jsonl"), lines)
            b = Broker(self, d).start()
            ws = start_workers(self, b, 2, 4)
            try:
                secs, _ = timed_submit_until_done(self, b, path, n + 1, timeout=300)
            finally:
                stop_all(ws)
                b.stop()
            self.add(f"fan_{shape}", secs)
            log(f"  fan-{shape} {n}: {secs:.3f} s ({(n + 1) / secs:,.0f} tasks/s)")

    # -- memory, submission of 1M, restart to first dispatch

    def g_big(self, r):
        n_small, n_big, leases = self.sz["mem_small"], self.sz["big"], self.sz["leases"]
        # RSS with 0 and n_small queued.
        d = self.rundir("mem")
        b = Broker(self, d).start()
        try:
            time.sleep(0.3)
            self.add("rss_0", b.rss_kb())
            path = noop_file(os.path.join(d, "small.jsonl"), n_small)
            subprocess.run([self.bin("leaseq-submit"), "--broker", b.ep, "--file", path],
                           stdout=subprocess.DEVNULL, check=True, timeout=300)
            time.sleep(0.3)
            self.add("rss_small", b.rss_kb())
        finally:
            b.stop()
        os.remove(path)

        # n_big in chunks of files (n_small each): time and RSS.
        d = self.rundir("chunks")
        b = Broker(self, d).start()
        try:
            path = noop_file(os.path.join(d, "chunk.jsonl"), self.sz["chunk"])
            t0 = time.monotonic()
            for _ in range(n_big // self.sz["chunk"]):
                subprocess.run([self.bin("leaseq-submit"), "--broker", b.ep, "--file", path,
                                "--timeout-ms", "60000"], stdout=subprocess.DEVNULL, check=True,
                               timeout=300)
            self.add("submit_chunks_s", time.monotonic() - t0)
            time.sleep(0.3)
            self.add("rss_big_chunks", b.rss_kb())
        finally:
            b.stop()
        shutil.rmtree(d, ignore_errors=True)

        # n_big in one file: time, RSS after, RSS of a restarted broker.
        d = self.rundir("big")
        path = noop_file(os.path.join(d, "big.jsonl"), n_big)
        b = Broker(self, d).start()
        try:
            t0 = time.monotonic()
            sub = subprocess.Popen([self.bin("leaseq-submit"), "--broker", b.ep, "--file", path,
                                    "--timeout-ms", "120000"], stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(sub.pid, 0)  # this child's own peak RSS
            sub.returncode = os.waitstatus_to_exitcode(status)
            if sub.returncode != 0:
                raise BenchError(f"leaseq-submit of {n_big} tasks exited with {sub.returncode}")
            self.add("submit_big_s", time.monotonic() - t0)
            self.add("submit_big_client_hwm", usage.ru_maxrss)  # KiB on Linux
            time.sleep(0.3)
            self.add("rss_big_onefile", b.rss_kb())
            self.add("hwm_big_onefile", b.rss_kb("VmHWM"))
            b.stop()
            os.remove(path)
            b.start()
            time.sleep(1.0)
            self.add("rss_big_restart", b.rss_kb())
            # `leases` live leases: a peer that holds what it gets.
            holder = PROCS.start([self.bin("leaseq-bench-hold-worker"), "--broker", b.ep,
                                  "--slots", str(leases), "--report-at", str(leases),
                                  "--name", "holder"], stdout=subprocess.PIPE)
            self._read_line(holder, 120, "the holder to hold its leases", "held")
            b.sigkill()
            PROCS.stop(holder, signal.SIGKILL)
            live = b.query("SELECT count(*) FROM attempts WHERE outcome='running'")[0][0]
            queued = b.query("SELECT n FROM task_state_counts WHERE state='queued'")[0][0]
            self.notes["restart_db"] = f"{queued:,} queued, {live:,} live leases"
            log(f"  database for the restart: {queued:,} queued tasks, {live:,} live leases, "
                f"{os.path.getsize(b.db) / 1e6:.0f} MB")
            for i in range(self.restarts):
                probe = PROCS.start([self.bin("leaseq-bench-hold-worker"), "--broker", b.ep,
                                     "--slots", "1", "--exit-after-first", "--name", f"probe{r}{i}"],
                                    stdout=subprocess.PIPE)
                time.sleep(0.2)  # the probe is up and reconnecting every 5 ms
                t0 = time.monotonic()
                b.start(wait=False)
                line = self._read_line(probe, 60, "the first dispatch after the restart", "first-task")
                t_first = int(line.split()[1]) / 1e9 - t0
                self.add("restart_first_dispatch", t_first)
                log(f"  restart -> first dispatch: {t_first * 1000:.0f} ms")
                b.sigkill()
                PROCS.stop(probe, signal.SIGKILL)
        finally:
            b.sigkill()
        shutil.rmtree(d, ignore_errors=True)
        log(f"  RSS: 0 -> {self.results['rss_0'][-1] / 1024:.1f} MB, {n_small:,} -> "
            f"{self.results['rss_small'][-1] / 1024:.1f} MB, {n_big:,} after one file -> "
            f"{self.results['rss_big_onefile'][-1] / 1024:.1f} MB, in chunks -> "
            f"{self.results['rss_big_chunks'][-1] / 1024:.1f} MB, restarted -> "
            f"{self.results['rss_big_restart'][-1] / 1024:.1f} MB; submit one file "
            f"{self.results['submit_big_s'][-1]:.1f} s, chunks {self.results['submit_chunks_s'][-1]:.1f} s")

    def g_scale(self, r):
        """1,000 one-slot workers (bench/many_workers.py, without its restart
        step): the broker's CPU while they idle, and dispatch through them
        against 2 x 4 slots in the same run."""
        if r > 0:
            return  # one run: it starts a thousand processes
        workers, tasks = (100 if self.args.quick else 1000), self.sz["scale_tasks"]
        out = run_json([sys.executable, os.path.join(HERE, "many_workers.py"), "--bin", self.bindir,
                        "--workers", str(workers), "--tasks", str(tasks), "--no-restart",
                        "--idle-seconds", "10" if self.args.quick else "20"], timeout=1200)
        self.notes["scale_workers"] = workers
        self.add("scale_idle_cpu", out["broker_cpu_idle_percent_of_a_core"])
        self.add("scale_many", out["dispatch_many_tasks_per_s"])
        self.add("scale_2x4", out["dispatch_2x4_tasks_per_s"])
        self.add("scale_registered_s", out["all_registered_s"])
        log(f"  {workers} workers: registered in {out['all_registered_s']} s, idle broker CPU "
            f"{out['broker_cpu_idle_percent_of_a_core']}% of a core, dispatch "
            f"{out['dispatch_many_tasks_per_s']:,.0f}/s vs 2 x 4 {out['dispatch_2x4_tasks_per_s']:,.0f}/s")

    def _read_line(self, p, timeout, what, prefix=""):
        """The first line of p's stdout that starts with prefix (lines before
        it are dropped; what is left after it stays buffered for the next call)."""
        import select
        deadline = time.monotonic() + timeout
        buf = self._buffers.setdefault(p.pid, b"")
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._buffers[p.pid] = buf
                if line.decode().startswith(prefix):
                    return line.decode()
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"timed out waiting for {what}")
            ready, _, _ = select.select([p.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    raise BenchError(f"process ended while waiting for {what}")
                buf += chunk

    # -- a killed worker's task runs elsewhere

    def kill_once(self, nanny):
        d = self.rundir("kill-nanny" if nanny else "kill")
        b = Broker(self, d).start()
        extra = ["--nanny"] if nanny else []
        ws = []
        try:
            ws += start_workers(self, b, 1, 1, extra=extra, names=["A"])
            subprocess.run([self.bin("leaseq-submit"), "--broker", b.ep, "--key", "long", "--fn",
                            "sleep", "--input", "30000"], stdout=subprocess.DEVNULL, check=True,
                           timeout=30)
            wait_for(lambda: b.query("SELECT count(*) FROM attempts WHERE task_key='long' AND "
                                     "outcome='running' AND worker='A'")[0][0] == 1,
                     30, "the task to run on A", 0.01)
            ws += start_workers(self, b, 1, 1, names=["B"])
            pid = b.query("SELECT pid FROM workers WHERE name='A'")[0][0]
            poll = DbPoller(b.db)
            try:
                t_kill = time.time()
                os.kill(pid, signal.SIGKILL)
                row = wait_for(lambda: poll.one(
                    "SELECT started_at, worker FROM attempts WHERE task_key='long' AND "
                    "attempt_no=2"), 30, "the task's second attempt", 0.001)
                seen = time.time() - t_kill
            finally:
                poll.close()
            secs = max(0.0, row[0] / 1000 - t_kill)
            return secs, seen, row[1]
        finally:
            # SIGKILL: a SIGTERMed worker would drain its 30 s task first.
            for w in ws:
                PROCS.stop(w, signal.SIGKILL)
            b.stop()

    def g_kill(self, r):
        for nanny in (True, False):
            secs, seen, where = self.kill_once(nanny)
            key = "kill_nanny" if nanny else "kill_plain"
            self.add(key, secs)
            log(f"  SIGKILL worker{' under nanny' if nanny else ''}: task re-dispatched to {where} "
                f"after {secs * 1000:.0f} ms (seen by the poller at {seen * 1000:.0f} ms)")

    # -- the --http endpoint under load: scrapes and a dashboard vs none

    def http_noop(self, mode):
        """noop throughput (2 workers x 4 slots) with the broker's --http
        off, on but idle, or on with a scraper reading /metrics every 100 ms
        and a headless Chromium showing the dashboard (polls every second).
        Returns (tasks/s, scrape latencies in s, CPU ms per 1,000 tasks of
        the broker's loop thread, and of the whole broker process)."""
        n = self.sz["tp"]
        d = self.rundir(f"http-{mode}")
        path = noop_file(os.path.join(d, "tasks.jsonl"), n)
        hport = free_port()
        extra = [] if mode == "off" else ["--http", f"127.0.0.1:{hport}"]
        b = Broker(self, d, extra=extra).start()
        ws = start_workers(self, b, 2, 4)
        stop = threading.Event()
        lat = []
        driver = None
        scraper = None
        try:
            if mode == "load":
                url = f"http://127.0.0.1:{hport}"

                def scrape():
                    while not stop.is_set():
                        t0 = time.monotonic()
                        with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
                            resp.read()
                        lat.append(time.monotonic() - t0)
                        stop.wait(max(0.0, 0.1 - (time.monotonic() - t0)))
                scraper = threading.Thread(target=scrape, daemon=True)
                scraper.start()
                driver = dashboard_browser()
                if driver:
                    driver.get(url + "/")
                    settle_dashboard(driver)
            cpu0 = _cpu_ticks(b.p.pid)
            secs, _ = timed_submit_until_done(self, b, path, n, timeout=300)
            cpu1 = _cpu_ticks(b.p.pid)
            hz = os.sysconf("SC_CLK_TCK")
            loop_ms = (cpu1[0] - cpu0[0]) * 1000 / hz / (n / 1000)
            proc_ms = (cpu1[1] - cpu0[1]) * 1000 / hz / (n / 1000)
        finally:
            stop.set()
            if scraper:
                scraper.join(timeout=15)
            if driver:
                driver.quit()
            stop_all(ws)
            b.stop()
        return n / secs, lat, loop_ms, proc_ms

    def g_http(self, r):
        modes = ["off", "on", "load"]
        for mode in modes[r % 3:] + modes[:r % 3]:  # rotated: no mode always goes first
            rate, lat, loop_ms, proc_ms = self.http_noop(mode)
            self.add(f"http_{mode}", rate)
            self.add(f"http_{mode}_loop_cpu", loop_ms / 1000)
            self.add(f"http_{mode}_cpu", proc_ms / 1000)
            if lat:
                lat.sort()
                self.add("http_scrape_p50", lat[len(lat) // 2])
                self.add("http_scrape_p99", lat[min(len(lat) - 1, int(len(lat) * 0.99))])
                self.add("http_scrapes", len(lat))
            log(f"  noop with --http {mode}: {rate:,.0f} tasks/s, broker CPU per 1,000 tasks: "
                f"loop thread {loop_ms:.0f} ms, whole process {proc_ms:.0f} ms"
                + (f" ({len(lat)} scrapes, p50 {lat[len(lat) // 2] * 1000:.1f} ms)" if lat else ""))

    # -- run and report

    def run(self):
        only = self.args.only.split(",") if self.args.only else GROUPS
        for g in only:
            if g not in GROUPS:
                raise BenchError(f"unknown group {g!r} (known: {', '.join(GROUPS)})")
        self.load_before = os.getloadavg()
        t_start = time.monotonic()
        sampler = ForeignSampler()
        try:
            for r in range(self.runs):
                log(f"round {r + 1} of {self.runs} (load {os.getloadavg()[0]:.2f})")
                for g in only:
                    if g == "big" and r >= self.big_runs:
                        continue
                    self.run_group(g, r, sampler)
        finally:
            sampler.stop()
        self.elapsed = time.monotonic() - t_start
        self.load_after = os.getloadavg()

    def run_group(self, g, r, sampler):
        """Runs one group; a group during which other heavy work ran on the
        machine (a compiler, ctest, a chaos run) is thrown away and measured
        again once the machine is quiet, up to --retries-busy times; a result
        kept anyway is counted in self.foreign."""
        for attempt in range(self.args.retries_busy + 1):
            if self.args.wait_quiet > 0:
                wait_quiet(sampler, self.args.wait_quiet)
            before = {k: len(v) for k, v in self.results.items()}
            sampler.reset()
            getattr(self, "g_" + g)(r)
            busy = sampler.seen()
            if not busy:
                return
            if attempt == self.args.retries_busy:
                log(f"  ({g}: measured while {', '.join(busy)} ran; kept)")
                self.foreign.update(busy)
                self.flagged.add(g)
                return
            log(f"  ({g}: {', '.join(busy)} ran meanwhile; measuring again)")
            for k in list(self.results):
                del self.results[k][before.get(k, 0):]
                if not self.results[k]:
                    del self.results[k]


# ---------------------------------------------------------------- the table

def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / 1024 / 1024
    except OSError:
        mem = 0
    return f"{os.cpu_count()} x {model}, {mem:.1f} GiB RAM, Linux {platform.release()}"


def leaseq_version():
    """The commit measured, and whether the tree had local changes (read-only git)."""
    try:
        head = subprocess.run(["git", "--no-optional-locks", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", ROOT, "status", "--porcelain",
                                "--untracked-files=no", "--", "src", "sql", "include", "tools/common",
                                "tools/submit", "tools/ctl"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    if not head:
        return "?"
    return head + (" + uncommitted changes in src, sql, include or tools" if dirty else "")


def versions():
    v = {}
    try:
        out = subprocess.run(["beanstalkd", "-v"], capture_output=True, text=True, timeout=5)
        v["beanstalkd"] = (out.stdout or out.stderr).strip().replace("beanstalkd ", "")
    except (OSError, subprocess.TimeoutExpired):
        v["beanstalkd"] = "missing"
    try:
        out = subprocess.run([dask_python(), "-c", "import distributed; print(distributed.__version__)"],
                             capture_output=True, text=True, timeout=60)
        v["dask"] = out.stdout.strip() or "missing"
    except (OSError, subprocess.TimeoutExpired):
        v["dask"] = "missing"
    try:
        v["sqlite"] = sqlite3.sqlite_version
    except Exception:
        pass
    return v


def dashboard_browser():
    """A headless Chromium (Selenium) for the dashboard, or None without one."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        log("  (no python3-selenium: the dashboard is not opened)")
        return None
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1300"]:
        o.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def _browser_ticks():
    """CPU ticks of every Chromium process (and chromedriver) on the machine."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        if st[st.find("(") + 1:st.rfind(")")].startswith("chrom"):
            fields = st.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total


def settle_dashboard(driver, limit_s=15):
    """Waits until the dashboard shows live data and Chromium has finished
    starting: the figure is a broker with a dashboard open, not a browser
    being launched (its first second takes most of a core, as much as the
    whole 100k-task run). Settled: under 10% of a core over 0.5 s."""
    from selenium.webdriver.common.by import By
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and driver.find_element(By.ID, "conn").text != "live":
        time.sleep(0.05)
    hz = os.sysconf("SC_CLK_TCK")
    while time.monotonic() < deadline:
        t0 = _browser_ticks()
        time.sleep(0.5)
        if (_browser_ticks() - t0) / hz < 0.05:
            return
    log("  (the dashboard's browser did not settle: measured anyway)")


def table(bench):
    """The one table: (figure, median, target, verdict) rows, Markdown."""
    m = bench.med
    sz = bench.sz
    rows = []

    def ok(*xs):
        return all(x is not None for x in xs)

    def n(x):
        return f"{x // 1000}k" if x < 1000000 else f"{x // 1000000}M"

    def runs(name):
        v = bench.results.get(name)
        return f" [{len(v)} runs]" if v and len(v) > 1 else ""

    def rate(x):
        return "—" if x is None else f"{x:,.0f}/s"

    def ms(x, digits=0):
        return "—" if x is None else f"{x * 1000:,.{digits}f} ms"

    def mb(x):
        return "—" if x is None else f"{x / 1024:.1f} MB"

    def at_least(value, target, shown=None):
        """Verdict for value >= target."""
        if value is None:
            return ""
        return ("met" if value >= target else "MISSED") + f" ({value / target:.2f}x the target)"

    def below(value, limit):
        """Verdict for value < limit."""
        if value is None:
            return ""
        return ("met" if value < limit else "MISSED") + f" ({value / limit:.2f}x the limit)"

    def row(figure, value, target="", verdict=""):
        rows.append((figure, value, target, verdict))

    tp = n(sz["tp"])
    normal, full, inst = m("tp_normal"), m("tp_full"), m("tp_instant")
    queued = m("tp_queued")
    if queued is not None:
        row(f"leaseq noop {tp} already queued, 2 workers x 4 slots: execution alone{runs('tp_queued')}",
            rate(queued), ">= 80,000/s", at_least(queued, 80000))
    if normal is not None:
        row(f"leaseq noop {tp}, 2 workers x 4 slots, --sync normal, submit start -> all done"
            f"{runs('tp_normal')}", rate(normal), ">= 50,000/s", at_least(normal, 50000))
        row(f"leaseq noop {tp}, 2 workers x 4 slots, --sync full{runs('tp_full')}", rate(full))
        row(f"broker ceiling: 2 instant workers x 4 slots, --sync normal{runs('tp_instant')}", rate(inst),
            "(informative)")
    s16, s64 = m("store_us_16"), m("store_us_64")
    if ok(s16, s64):
        row("the store alone (leaseq-bench-store: lease + result + commit, no sockets), CPU per task, "
            "passes of 16 / 64", f"{s16:.1f} us / {s64:.1f} us", "(informative)")
    hoff, hon, hload = m("http_off"), m("http_on"), m("http_load")
    if ok(hoff, hon, hload):
        row(f"leaseq noop {tp}, broker without --http{runs('http_off')}", rate(hoff))
        row(f"leaseq noop {tp}, --http, nobody reading{runs('http_on')}", rate(hon),
            "(informative)", f"{hon / hoff:.2f}x without")
        row(f"leaseq noop {tp}, --http, /metrics every 100 ms + dashboard open{runs('http_load')}",
            rate(hload), ">= 0.9x without", at_least(hload / hoff, 0.9))
        lo, ll = m("http_off_loop_cpu"), m("http_load_loop_cpu")
        po, pl = m("http_off_cpu"), m("http_load_cpu")
        if ok(lo, ll, po, pl):
            row("broker loop thread CPU per 1,000 tasks: without --http / with scraper + dashboard",
                f"{ms(lo)} / {ms(ll)}", "(informative)", f"{ll / lo:.2f}x")
            row("whole broker process CPU per 1,000 tasks: without / with (HTTP threads included)",
                f"{ms(po)} / {ms(pl)}", "(informative)", f"{pl / po:.2f}x")
        row(f"/metrics latency during that run, p50 / p99{runs('http_scrape_p50')}",
            f"{ms(m('http_scrape_p50'), 1)} / {ms(m('http_scrape_p99'), 1)}", "(informative)")
    ddef, dinf, bs50, bs0 = m("dask_default"), m("dask_inf"), m("bs_f50"), m("bs_f0")
    if ok(dinf):
        row(f"Dask LocalCluster 2 procs x 4 threads, default, {n(sz['dask_default'])} tasks"
            f"{runs('dask_default')}", rate(ddef))
        row(f"Dask, worker-saturation inf, {n(sz['dask_inf'])} tasks{runs('dask_inf')}", rate(dinf))
    bs50w1, bs0w1 = m("bs_f50_w1"), m("bs_f0_w1")
    if ok(bs50):
        row(f"beanstalkd -b (binlog), default fsync 50 ms, {n(sz['bs'])} jobs, puts pipelined 64 deep"
            f"{runs('bs_f50')}", rate(bs50))
        row(f"beanstalkd -b -f 0 (fsync per write), {n(sz['bs'])} jobs, puts pipelined 64 deep"
            f"{runs('bs_f0')}", rate(bs0))
    if ok(bs50w1):
        row(f"beanstalkd -b, default fsync, one put at a time{runs('bs_f50_w1')}", rate(bs50w1), "(informative)")
        row(f"beanstalkd -b -f 0, one put at a time{runs('bs_f0_w1')}", rate(bs0w1), "(informative)")
    if ok(normal, dinf):
        row("ratio leaseq normal / Dask saturation inf", f"{normal / dinf:.1f}x", ">= 15x",
            at_least(normal / dinf, 15))
    if ok(normal, ddef):
        row("ratio leaseq normal / Dask default", f"{normal / ddef:.1f}x", "(informative)")
    if ok(normal, bs50):
        row("ratio leaseq normal / beanstalkd default fsync", f"{normal / bs50:.1f}x", ">= 2x",
            at_least(normal / bs50, 2))
    if ok(full, bs0):
        row("ratio leaseq --sync full / beanstalkd -f 0", f"{full / bs0:.1f}x", ">= 10x",
            at_least(full / bs0, 10))
    if ok(normal, full, bs50w1, bs0w1):
        row("ratios against beanstalkd with one put at a time: normal / default, full / -f 0",
            f"{normal / bs50w1:.1f}x / {full / bs0w1:.1f}x", "(informative)")

    c, rf, rp = m("cmd_leaseq"), m("cmd_raw_fork"), m("cmd_raw_posix_spawn")
    if ok(c, rf, rp):
        row(f"leaseq /bin/true, {n(sz['cmd'])} tasks, 2 workers x 4 slots{runs('cmd_leaseq')}", rate(c))
        row(f"raw fork+exec+waitpid of /bin/true, 8 threads{runs('cmd_raw_fork')}", rate(rf))
        row(f"raw posix_spawn+waitpid of /bin/true, 8 threads{runs('cmd_raw_posix_spawn')}", rate(rp))
        best = max(rf, rp)
        row("ratio leaseq / raw spawn-and-wait (the faster method)", f"{c / best * 100:.0f}%", "(informative)")
        row("ratio leaseq / raw posix_spawn", f"{c / rp * 100:.0f}%", ">= 85%", at_least(c / rp, 0.85))
        row("ratio leaseq / raw fork+exec", f"{c / rf * 100:.0f}%", "(informative)")
    rr = m("cmd_raw_runner")
    if ok(rr, rp):
        row(f"the worker's ProcessRunner alone (pipes, clone, reap), 8 threads{runs('cmd_raw_runner')}",
            rate(rr))
        row("ratio ProcessRunner alone / raw posix_spawn", f"{rr / rp * 100:.0f}%", "(informative)")

    p50, p99 = m("lat_p50"), m("lat_p99")
    if ok(p50, p99):
        row(f"latency noop, one at a time, submit -> done, p50{runs('lat_p50')}", ms(p50, 3), "< 1 ms",
            below(p50, 0.001))
        row(f"latency noop, one at a time, submit -> done, p99{runs('lat_p99')}", ms(p99, 3), "< 5 ms",
            below(p99, 0.005))
        row("latency, submit -> ack (committed), p50", ms(m("lat_ack_p50"), 3), "(informative)")
        row("latency, new connection per request (leaseq::Client), p50 / p99",
            f"{ms(m('lat_cpc_p50'), 3)} / {ms(m('lat_cpc_p99'), 3)}", "(informative)")

    fi, fo = m("fan_in"), m("fan_out")
    if ok(fi, fo):
        k = sz["fan"]
        row(f"fan-in: {n(k)} tasks + 1 after all of them, submit -> all done{runs('fan_in')}",
            f"{fi:.2f} s ({(k + 1) / fi:,.0f}/s)")
        row(f"fan-out: 1 task + {n(k)} after it, submit -> all done{runs('fan_out')}",
            f"{fo:.2f} s ({(k + 1) / fo:,.0f}/s)")

    big = n(sz["big"])
    files = sz["big"] // sz["chunk"]
    if ok(m("rss_0")):
        row("broker RSS, 0 tasks", mb(m("rss_0")))
        row(f"broker RSS, {n(sz['mem_small'])} queued (submitted in one file)", mb(m("rss_small")))
        r = m("rss_big_restart")
        row(f"broker RSS, {big} queued (broker restarted on them)", mb(r), "< 64 MB",
            below(None if r is None else r / 1024, 64))
        r = m("rss_big_chunks")
        row(f"broker RSS, {big} queued, just submitted in {files} files of {n(sz['chunk'])}", mb(r),
            "< 64 MB", below(None if r is None else r / 1024, 64))
        r = m("rss_big_onefile")
        row(f"broker RSS, {big} queued, just submitted in one file (peak {mb(m('hwm_big_onefile'))})",
            mb(r), "< 64 MB", below(None if r is None else r / 1024, 64))
    s1, s2 = m("submit_big_s"), m("submit_chunks_s")
    if ok(s1):
        row(f"submission: {big} tasks, leaseq-submit --file, one file{runs('submit_big_s')}",
            f"{s1:.1f} s ({sz['big'] / s1:,.0f}/s)", "< 5 s", below(s1, 5))
        c_hwm, b_hwm = m("submit_big_client_hwm"), m("hwm_big_onefile")
        if ok(c_hwm):
            row(f"submission: {big} tasks, one file: leaseq-submit's peak RSS", mb(c_hwm), "< 200 MB",
                below(c_hwm / 1024, 200))
        if ok(b_hwm):
            row(f"submission: {big} tasks, one file: the broker's peak RSS", mb(b_hwm), "< 200 MB",
                below(b_hwm / 1024, 200))
    if ok(s2):
        row(f"submission: {big} tasks, {files} x leaseq-submit --file of {n(sz['chunk'])}{runs('submit_chunks_s')}",
            f"{s2:.1f} s ({sz['big'] / s2:,.0f}/s)", "(informative)")
    t = m("restart_first_dispatch")
    if ok(t):
        row(f"broker start -> first dispatch, {bench.notes.get('restart_db', '')}"
            f"{runs('restart_first_dispatch')}", ms(t), "< 1 s", below(t, 1))

    kn, kp = m("kill_nanny"), m("kill_plain")
    if ok(kn):
        row(f"SIGKILL of a worker under --nanny -> its task dispatched again{runs('kill_nanny')}",
            ms(kn), "< 100 ms", below(kn, 0.1))
    if ok(kp):
        row(f"SIGKILL of a worker, no nanny (lost after heartbeat 1 s x liveness 3){runs('kill_plain')}",
            ms(kp), "(informative)")

    idle, many, ref = m("scale_idle_cpu"), m("scale_many"), m("scale_2x4")
    if ok(idle, many, ref):
        k = bench.notes.get("scale_workers", 1000)
        row(f"{k:,} one-slot workers connected and idle: broker CPU", f"{idle:.1f}% of a core", "< 5%",
            below(idle, 5))
        row(f"dispatch through {k:,} one-slot workers, {n(sz['scale_tasks'])} noop", rate(many))
        row(f"the same through 2 workers x 4 slots, same run", rate(ref))
        row(f"ratio {k:,} one-slot workers / 2 x 4", f"{many / ref:.2f}", ">= 0.8", at_least(many / ref, 0.8))

    hdr = ("figure", "median", "target", "verdict")
    w = [max(len(r[i]) for r in rows + [hdr]) for i in range(4)]
    lines = ["| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |",
             "|" + "|".join("-" * (w[i] + 2) if i != 1 else "-" * (w[i] + 1) + ":" for i in range(4)) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(
            (r[i].rjust(w[i]) if i == 1 else r[i].ljust(w[i])) for i in range(4)) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--quick", action="store_true", help="small sizes, one run each (< 2 min)")
    ap.add_argument("--runs", type=int, default=0, help="runs per figure (default 3; --quick 1)")
    ap.add_argument("--only", default="", help="comma-separated groups: " + ",".join(GROUPS))
    ap.add_argument("--json", default="", help="also write the raw results here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--retries-busy", type=int, default=2,
                    help="measure a group again when other heavy work (compiler, ctest, "
                         "leaseq-chaos) ran meanwhile, at most this many times (default 2)")
    ap.add_argument("--wait-quiet", type=float, default=300,
                    help="before each group, wait at most this many seconds for such work to "
                         "end (default 300; 0: do not wait)")
    args = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    bench = Bench(args)
    atexit.register(PROCS.kill_all)
    cmdline = shlex.join([os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:])
    log(f"leaseq bench ({'quick' if args.quick else 'full'}), temp dir {bench.tmp}")
    version = leaseq_version()  # the tree as it was when the run started
    rc = 0
    try:
        bench.run()
    except KeyboardInterrupt:
        log("interrupted: stopping everything it started")
        rc = 130
    except BenchError as e:
        log(f"error: {e}")
        rc = 1
    finally:
        PROCS.kill_all()
        if not args.keep:
            shutil.rmtree(bench.tmp, ignore_errors=True)
    if rc == 130:
        return rc
    v = versions()
    print()
    print(f"leaseq benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine:  {machine()}")
    print(f"leaseq:   {version} (source tree at the start), binaries in {bench.bindir}")
    print(f"peers:    Dask/distributed {v['dask']}, beanstalkd {v['beanstalkd']}; SQLite {v.get('sqlite', '?')}")
    print(f"command:  {cmdline}   ({'quick' if args.quick else 'full'}; {bench.runs} run(s) per figure, "
          f"the 1M-task group {bench.big_runs}, Dask default {bench.dask_default_runs}; "
          f"{bench.elapsed / 60 if hasattr(bench, 'elapsed') else 0:.1f} min)")
    lb, la = getattr(bench, "load_before", (0, 0, 0)), getattr(bench, "load_after", (0, 0, 0))
    print(f"load:     {lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f} at the start, {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} at the end; "
          f"{'other work ran during groups ' + ', '.join(sorted(bench.flagged)) + ' (' + ', '.join(sorted(bench.foreign)) + ')' if bench.foreign else 'no compiler, ctest or leaseq-chaos ran during any figure kept'}")
    print()
    print(table(bench))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": bench.results, "notes": bench.notes, "sizes": bench.sz,
                       "foreign": sorted(bench.foreign), "flagged": sorted(bench.flagged),
                       "runs": bench.runs, "machine": machine(), "versions": v,
                       "load_before": lb, "load_after": la, "command": cmdline}, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
