"""Fixtures of the Python suite: the real leaseq-broker (and leaseq-worker,
leaseq-ctl) of the build, started as processes on 127.0.0.1 with a real
SQLite file in a temporary directory, and Python workers started as
`python -m leaseq.worker` processes. Waits poll conditions with deadlines.

The binaries come from $LEASEQ_BIN_DIR (ctest sets it), else build/bin.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYTHON_DIR)
sys.path.insert(0, PYTHON_DIR)
sys.path.insert(0, HERE)

import leaseq  # noqa: E402


def bin_dir():
    return os.environ.get("LEASEQ_BIN_DIR") or os.path.join(REPO, "build", "bin")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(cond, timeout=15.0, what="condition"):
    """Polls cond() until it is truthy; its value. Fails the test after timeout."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


class Cluster:
    """A broker and its workers in tmp_path; everything is stopped at the end."""

    def __init__(self, tmp_path, heartbeat_ms=200, broker_args=()):
        self.dir = str(tmp_path)
        self.db = os.path.join(self.dir, "leaseq.db")
        self.endpoint = "tcp://127.0.0.1:%d" % free_port()
        self.heartbeat_ms = heartbeat_ms
        self.broker_args = list(broker_args)
        self.broker = None
        self.procs = []
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join([PYTHON_DIR, HERE] + (
            [self.env["PYTHONPATH"]] if self.env.get("PYTHONPATH") else []))
        self.env["LEASEQ_BROKER"] = self.endpoint
        self.clients = []
        self._n = 0

    def log(self, name):
        return open(os.path.join(self.dir, name + ".log"), "ab")

    def start_broker(self):
        self.broker = subprocess.Popen(
            [os.path.join(bin_dir(), "leaseq-broker"), "--db", self.db, "--bind", self.endpoint,
             "--heartbeat-ms", str(self.heartbeat_ms)] + self.broker_args,
            env=self.env, stderr=self.log("broker"))
        self.procs.append(self.broker)
        return self.broker

    def client(self, **kw):
        kw.setdefault("timeout", 1.0)
        kw.setdefault("tries", 10)
        c = leaseq.Client(self.endpoint, **kw)
        self.clients.append(c)
        return c

    def worker(self, *functions, name=None, slots=1, extra=(), env=None):
        """A Python worker process serving taskfns' functions (import paths)."""
        self._n += 1
        name = name or "py-%d" % self._n
        fns = list(functions) or ["taskfns:double", "taskfns:total", "taskfns:slow",
                                  "taskfns:boom", "taskfns:upper"]
        if "taskfns:upper" in fns:
            extra = ["--raw", "taskfns:upper"] + list(extra)
        argv = [sys.executable, "-m", "leaseq.worker"] + fns + [
            "--name", name, "--slots", str(slots)] + list(extra)
        p = subprocess.Popen(argv, env=dict(self.env, **(env or {})), stderr=self.log(name))
        p.worker_name = name
        self.procs.append(p)
        return p

    def cxx_worker(self, *args):
        p = subprocess.Popen([os.path.join(bin_dir(), "leaseq-worker"), "--broker",
                              self.endpoint] + list(args), env=self.env, stderr=self.log("cxx"))
        self.procs.append(p)
        return p

    def wait_registered(self, name, client=None, timeout=15.0):
        c = client or self.client()
        return wait_until(lambda: any(w["name"] == name and w["state"] == "alive"
                                      for w in c.workers()), timeout, "worker %s" % name)

    def attempts(self, client, key):
        return client.show(key).get("attempts", [])

    def stop(self):
        for c in self.clients:
            c.close()
        workers = [p for p in self.procs if p is not self.broker]
        brokers = [p for p in self.procs if p is self.broker or p not in workers]
        for group in (workers, brokers):
            for p in group:
                if p.poll() is None:
                    try:
                        p.send_signal(signal.SIGCONT)
                        p.send_signal(signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            for p in group:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    c.start_broker()
    yield c
    c.stop()
