#!/usr/bin/python3
"""The Dask peer of leaseq's throughput benchmark (Debian's python3-distributed).

    dask_peer.py --tasks N [--saturation-inf] [--timeout S]

A LocalCluster of 2 worker processes x 4 threads (the shape of leaseq's
2 workers x 4 slots); then client.map(noop, range(N), pure=False) and
client.gather of all the futures. The clock runs from the map call to the
end of the gather (cluster start-up is not counted, as leaseq's broker and
worker start-up is not). Prints one JSON object: tasks, seconds, rate, and
the scheduler's RSS growth while the N tasks were queued (informative).
"""
import argparse
import json
import os
import sys
import time


def noop(x):
    return None


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--saturation-inf", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()

    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import dask
    import distributed
    from distributed import Client, LocalCluster, wait

    cfg = {"distributed.admin.tick.limit": "1h"}  # no "event loop blocked" noise
    if args.saturation_inf:
        cfg["distributed.scheduler.worker-saturation"] = float("inf")
    with dask.config.set(cfg):
        with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                          processes=True, dashboard_address=None,
                          host="127.0.0.1") as cluster, Client(cluster) as client:
            client.wait_for_workers(args.workers, timeout=120)
            # Warm-up: a few tasks, so that the clock sees steady state.
            client.gather(client.map(noop, range(100), pure=False))
            sched_before = rss_kb(os.getpid())  # LocalCluster's scheduler runs in this process
            t0 = time.monotonic()
            futures = client.map(noop, range(args.tasks), pure=False)
            sched_peak = rss_kb(os.getpid())
            wait(futures, timeout=args.timeout)
            client.gather(futures)
            t1 = time.monotonic()
            del futures
    out = {
        "tasks": args.tasks,
        "seconds": t1 - t0,
        "rate": args.tasks / (t1 - t0),
        "saturation_inf": args.saturation_inf,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "client_and_scheduler_rss_growth_kb": sched_peak - sched_before,
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
