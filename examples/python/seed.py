#!/usr/bin/env python3
"""The seed scenario in Python: Dask's "resilience against hardware failures"
notebook (client.map(multiply_by_two, range(400)), then a sum, while workers
are preempted), with leaseq.

It starts a broker and 4 Python workers (1 slot each): 2 stable ones and 2
preemptible ("spot") ones. multiply_by_two (a 20 ms sleep) is mapped over
range(400), and a task after all of them sums their results. One spot worker
gets SIGTERM (drained: its task finishes or is handed back without blame) as
soon as one is up, then one every 3 s; a preempted spot worker is replaced
by a new one, as a cloud replaces a preempted VM. With --signal KILL the
spot workers die at once; their leases lapse and their tasks are run again
elsewhere (suspicion counted, as Dask's allowed-failures).

    python3 examples/python/seed.py [--bin build/bin] [--signal TERM|KILL]
                                    [--kill-every 3] [--keep]

prints

    sum(range(400)) on cluster: 159600	(should be 159600)

and a line of what happened; exit status 0 when the sum is right and every
task was done by exactly one accepted attempt.
"""

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

try:
    import zmq  # noqa: F401
except ImportError:
    sys.exit("%s: this Python (%s) has no pyzmq: apt-get install python3-zmq and run it with "
             "/usr/bin/python3, or pip install pyzmq (python/README.md)"
             % (os.path.basename(__file__), sys.executable))
try:
    import leaseq
except ImportError:  # not installed: the package of this tree
    sys.path.insert(0, os.path.join(REPO, "python"))
    import leaseq


def multiply_by_two(x):
    time.sleep(0.02)
    return 2 * x


def total(*xs):
    return sum(xs)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def find_bin(given):
    if given:
        return os.path.abspath(given)
    built = os.path.join(REPO, "build", "bin")
    if os.path.exists(os.path.join(built, "leaseq-broker")):
        return built
    found = shutil.which("leaseq-broker")
    if found:
        return os.path.dirname(found)
    sys.exit("seed.py: no leaseq-broker in build/bin or on PATH (run make build, or give --bin)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", help="directory of leaseq-broker (default build/bin, else PATH)")
    p.add_argument("--signal", default="TERM", choices=("TERM", "KILL", "SIGTERM", "SIGKILL"))
    p.add_argument("--kill-every", type=float, default=3.0, help="seconds between preemptions")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    p.add_argument("--keep", action="store_true", help="keep the working directory (logs, database)")
    a = p.parse_args()
    sig = signal.SIGKILL if a.signal.endswith("KILL") else signal.SIGTERM
    bindir = find_bin(a.bin)

    work = tempfile.mkdtemp(prefix="leaseq-seed-")
    db = os.path.join(work, "leaseq.db")
    endpoint = "tcp://127.0.0.1:%d" % free_port()
    env = dict(os.environ, LEASEQ_BROKER=endpoint)
    # The workers import this file as the module "seed" (and leaseq itself).
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(leaseq.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        [HERE, package_dir] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    procs = []

    def start(argv, log):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(work, log), "ab"))
        procs.append(proc)
        return proc

    def start_worker(name):
        return start([sys.executable, "-m", "leaseq.worker", "seed:multiply_by_two", "seed:total",
                      "--slots", "1", "--name", name], name + ".log")

    started = time.monotonic()
    try:
        start([os.path.join(bindir, "leaseq-broker"), "--db", db, "--bind", endpoint], "broker.log")
        client = leaseq.Client(endpoint, timeout=1.0, tries=30)
        workers = {name: start_worker(name) for name in ("stable-1", "stable-2", "spot-1", "spot-2")}
        spot_names = ["spot-1", "spot-2"]
        next_spot = 3

        futures = client.map(multiply_by_two, range(400))
        result = client.submit(total, after=futures)

        preempted, next_kill = 0, time.monotonic()
        while not result.done():
            now = time.monotonic()
            if now - started > a.timeout:
                sys.exit("seed.py: not finished after %g s (logs in %s)" % (a.timeout, work))
            if now >= next_kill:
                # As soon as one spot worker is registered (and running a task, if one is).
                alive = {w["name"]: w for w in client.workers() if w["state"] == "alive"}
                up = [n for n in spot_names if n in alive]
                up.sort(key=lambda n: -alive[n].get("running", 0))
                if up:
                    victim = up[0]
                    workers[victim].send_signal(sig)
                    spot_names.remove(victim)
                    preempted += 1
                    next_kill = now + a.kill_every
                    replacement = "spot-%d" % next_spot
                    next_spot += 1
                    workers[replacement] = start_worker(replacement)
                    spot_names.append(replacement)
            time.sleep(0.05)

        value = result.result()
        print("sum(range(400)) on cluster: %s\t(should be 159600)" % value)
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as con:
            reclaimed = con.execute("SELECT count(*) FROM attempts WHERE outcome IN "
                                    "('lost', 'released')").fetchone()[0]
            lost = con.execute("SELECT count(*) FROM attempts WHERE outcome = 'lost'").fetchone()[0]
            twice = con.execute(
                "SELECT count(*) FROM tasks t WHERE (SELECT count(*) FROM attempts a WHERE "
                "a.task_id = t.id AND a.outcome = 'done') <> 1").fetchone()[0]
        print("workers preempted with SIG%s: %d; task attempts reclaimed: %d (%d from lost "
              "workers); wall time %.3f s" % ("KILL" if sig == signal.SIGKILL else "TERM",
                                              preempted, reclaimed, lost,
                                              time.monotonic() - started))
        client.close()
        if twice:
            print("seed.py: %d task(s) without exactly one done attempt" % twice, file=sys.stderr)
            return 1
        return 0 if value == 159600 else 1
    finally:
        # The workers first (they say goodbye to the broker), then the broker.
        for group in (procs[1:], procs[:1]):
            for proc in group:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in group:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if a.keep:
            print("kept: " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
