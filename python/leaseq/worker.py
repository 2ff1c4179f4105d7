"""python -m leaseq.worker: a Python worker from the command line.

    python -m leaseq.worker mymodule:fn1 mymodule:fn2 --slots 4 --broker tcp://host:5555

Each positional argument is a function's import path (module:function),
announced to the broker under that name; ``--name NAME=module:function``
gives it another name, ``--raw`` marks it as taking and returning bytes.
Flags as leaseq-worker's where they apply. Exit status: 0 after a drain
(SIGTERM/SIGINT), 2 bad usage (an import path that does not import), 4 the
broker refused our name (another live worker holds it).
"""

import argparse
import sys

from ._worker import DRAIN_TIMEOUT, NameInUse, Worker
from .errors import CurveError


def _duration_seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    import re
    parts = re.fullmatch(r"((\d+)(ms|h|m|s))+", text)
    if not parts:
        raise argparse.ArgumentTypeError("bad duration %r: a whole number and a unit, e.g. 30s" % text)
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", text))


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m leaseq.worker",
        description="A leaseq worker running Python functions (and command tasks).")
    p.add_argument("functions", nargs="*", metavar="module:function",
                   help="functions to serve, by import path; NAME=module:function names one")
    p.add_argument("--broker", help="broker endpoint (env LEASEQ_BROKER, default tcp://127.0.0.1:5555)")
    p.add_argument("--name", dest="worker_name", help="worker name (default host-pid-random)")
    p.add_argument("--slots", type=int, default=1, help="tasks run at once (default 1)")
    p.add_argument("--prefetch", type=int, default=-1, help="tasks held beyond the slots (default: slots)")
    p.add_argument("--queue", action="append", dest="queues", help="queue to serve (repeatable; default 'default')")
    p.add_argument("--pool", choices=("thread", "process"), default="thread",
                   help="run functions on threads (default) or in a process pool")
    p.add_argument("--raw", action="append", default=[], metavar="NAME",
                   help="this function takes and returns bytes, not JSON values")
    p.add_argument("--drain-timeout", type=_duration_seconds, default=DRAIN_TIMEOUT,
                   help="how long running tasks get on SIGTERM (default 25s)")
    p.add_argument("--curve-secret", help="CURVE: our .secret file (env LEASEQ_CURVE_SECRET)")
    p.add_argument("--curve-server", help="CURVE: the broker's .pub file (env LEASEQ_CURVE_SERVER)")
    a = p.parse_args(argv)
    if a.slots < 1:
        p.error("--slots must be at least 1")
    try:
        w = Worker(broker=a.broker, name=a.worker_name, slots=a.slots, prefetch=a.prefetch,
                   queues=a.queues or ["default"], pool=a.pool, curve_secret=a.curve_secret,
                   curve_server=a.curve_server, drain_timeout=a.drain_timeout)
        for spec in a.functions:
            name, path = spec.split("=", 1) if "=" in spec.split(":", 1)[0] else (None, spec)
            w.add(path, name=name, raw=(name or path) in a.raw)
    except CurveError as e:
        print("leaseq-worker: %s" % e, file=sys.stderr)
        return 2
    except (ImportError, AttributeError, ValueError, TypeError) as e:
        print("leaseq-worker: %s" % e, file=sys.stderr)
        return 2
    try:
        return w.run()
    except NameInUse as e:
        print("leaseq-worker: %s" % e, file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
