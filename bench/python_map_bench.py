#!/usr/bin/python3
"""Client.map over N inputs with Python workers, against Dask's client.map,
in the same run (make bench-python; docs/benchmarks.md).

    python_map_bench.py [--bin build/bin] [--tasks 100000] [--runs 3] [--quick]

leaseq: a broker (its SQLite file in a temporary directory) and 2 Python
workers (python -m leaseq.worker) of 4 thread slots each: the shape of the
Dask peer's LocalCluster of 2 worker processes x 4 threads
(bench/dask_peer.py). Both map the same trivial function (noop) over
range(N) and gather every result; the clock runs from the map call to the
end of the gather, cluster start-up not counted. leaseq's time includes the
all-or-nothing submission of the N tasks (committed to SQLite before map
returns) and is also reported apart. A third row maps the same from Python
onto leaseq-worker's built-in noop (C++ workers): what the Python client
and the broker cost without the Python workers. Prints a table and one JSON line per
run; the medians are what docs/benchmarks.md records.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "python"))


def noop(x):
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_leaseq(bindir, tasks, workers, slots, python_workers=True):
    import leaseq
    work = tempfile.mkdtemp(prefix="leaseq-pybench-")
    endpoint = "tcp://127.0.0.1:%d" % free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.path.join(REPO, "python")]))
    log = open(os.path.join(work, "log"), "ab")
    broker = subprocess.Popen([os.path.join(bindir, "leaseq-broker"), "--db",
                               os.path.join(work, "leaseq.db"), "--bind", endpoint], stderr=log)
    procs = []
    try:
        for i in range(workers):
            if python_workers:
                argv = [sys.executable, "-m", "leaseq.worker", "python_map_bench:noop"]
            else:  # leaseq-worker's built-in noop: the cost of the Python client alone
                argv = [os.path.join(bindir, "leaseq-worker")]
            procs.append(subprocess.Popen(argv + ["--slots", str(slots), "--name", "bench-%d" % i,
                                                  "--broker", endpoint], env=env, stderr=log))
        fn = noop if python_workers else "noop"
        client = leaseq.Client(endpoint, timeout=5, tries=10)
        deadline = time.monotonic() + 60
        while sum(w["state"] == "alive" for w in client.workers()) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not register (log: %s)" % work)
            time.sleep(0.05)
        client.gather(client.map(fn, range(100)))  # warm-up, as the Dask peer's
        t0 = time.monotonic()
        futures = client.map(fn, range(tasks))
        t1 = time.monotonic()
        results = client.gather(futures)
        t2 = time.monotonic()
        assert len(results) == tasks and all(r is None for r in results)
        client.close()
        return {"tasks": tasks, "seconds": t2 - t0, "rate": tasks / (t2 - t0),
                "submit_seconds": t1 - t0}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def run_dask(tasks, workers, slots):
    out = subprocess.run([sys.executable, os.path.join(HERE, "dask_peer.py"), "--tasks",
                          str(tasks), "--workers", str(workers), "--threads", str(slots)],
                         capture_output=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError("dask_peer.py failed: " + out.stderr.decode()[-2000:])
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="10,000 tasks, one run: a smoke check")
    a = ap.parse_args()
    if a.quick:
        a.tasks, a.runs = 10000, 1
    bindir = os.path.abspath(a.bin)
    rows = {"leaseq (Python workers)": [], "leaseq (Python client, C++ leaseq-worker noop)": [],
            "Dask client.map": []}
    for run in range(a.runs):
        # Alternated, so that a slow phase of the machine hits both.
        r = run_leaseq(bindir, a.tasks, a.workers, a.slots)
        r.update(system="leaseq", run=run)
        print(json.dumps(r), flush=True)
        rows["leaseq (Python workers)"].append(r)
        r = run_leaseq(bindir, a.tasks, a.workers, a.slots, python_workers=False)
        r.update(system="leaseq-cxx-workers", run=run)
        print(json.dumps(r), flush=True)
        rows["leaseq (Python client, C++ leaseq-worker noop)"].append(r)
        d = run_dask(a.tasks, a.workers, a.slots)
        d.update(system="dask", run=run)
        print(json.dumps(d), flush=True)
        rows["Dask client.map"].append(d)
    print("\n%d tasks (noop), %d workers x %d slots, %d run(s), medians; %s, %d cores" % (
        a.tasks, a.workers, a.slots, a.runs, platform.python_version(), os.cpu_count()))
    print("| system | seconds | tasks/s |")
    print("|---|---|---|")
    med = {}
    for name, rs in rows.items():
        med[name] = statistics.median(r["seconds"] for r in rs)
        print("| %s | %.2f | %.0f |" % (name, med[name], a.tasks / med[name]))
    sub = statistics.median(r["submit_seconds"] for r in rows["leaseq (Python workers)"])
    print("\nleaseq's submission alone (map returned, all stored): %.2f s" % sub)
    print("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("ratio (Dask seconds / leaseq seconds): %.2f" % (
        med["Dask client.map"] / med["leaseq (Python workers)"]))


if __name__ == "__main__":
    main()
