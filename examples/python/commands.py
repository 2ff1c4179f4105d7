#!/usr/bin/env python3
"""Submitting from Python to the C++ workers: command tasks.

Starts a broker and two leaseq-worker processes (2 slots each), then, from
Python: counts the words of a few texts with `wc -w` (input on stdin), sums
the counts with an `awk` task that runs after them (their outputs are its
stdin), runs one in-process function of leaseq-worker (`echo`), and shows
what a failing command looks like (TaskFailed with the exit status and the
tail of stderr). Results of commands are bytes (stdout).

    python3 examples/python/commands.py [--bin build/bin]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

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

TEXTS = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "a persistent work queue for machines that get preempted",
]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.path.join(REPO, "build", "bin"),
                   help="directory of leaseq-broker and leaseq-worker (default build/bin)")
    a = p.parse_args()
    bindir = os.path.abspath(a.bin)
    work = tempfile.mkdtemp(prefix="leaseq-commands-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    endpoint = "tcp://127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    logs = open(os.path.join(work, "log"), "ab")
    procs = [subprocess.Popen([os.path.join(bindir, "leaseq-broker"), "--db",
                               os.path.join(work, "leaseq.db"), "--bind", endpoint], stderr=logs)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([os.path.join(bindir, "leaseq-worker"), "--slots", "2",
                                           "--broker", endpoint], stderr=logs))
        client = leaseq.Client(endpoint, timeout=1.0, tries=10)

        counts = [client.submit(["wc", "-w"], input=text) for text in TEXTS]
        total = client.submit(["awk", "{ s += $1 } END { print s }"], after=counts)
        for text, h in zip(TEXTS, counts):
            print("%-60s %s words" % (text, h.result(timeout=30).decode().strip()))
        print("total: %s" % total.result(timeout=30).decode().strip())

        echoed = client.submit("echo", input=b"bytes in, bytes out\n", raw=True)
        print("fn echo on leaseq-worker: %r" % echoed.result(timeout=30))

        broken = client.submit(["sh", "-c", "echo 'no such file: data.csv' >&2; exit 3"])
        try:
            broken.result(timeout=30)
        except leaseq.TaskFailed as e:
            print("a failing command: %s" % e)
        client.close()
        return 0
    finally:
        for group in (procs[1:], procs[:1]):
            for proc in group:
                proc.send_signal(signal.SIGTERM)
            for proc in group:
                proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
