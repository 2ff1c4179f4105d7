"""The real leaseq binaries for the --http tests: a broker with --http on
free ports of 127.0.0.1, workers, a temporary database; deadlines, not
sleeps. Every process started here is stopped by its pid."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def http(url, method="GET", headers=None, data=None):
    """(status, body text) of one request; never raises on an HTTP status."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Cluster:
    def __init__(self, bin_dir, broker_args=(), keep=bool(os.environ.get("LEASEQ_TEST_KEEP"))):
        self.bin = bin_dir
        self.dir = tempfile.mkdtemp(prefix="leaseq-http-")
        self.keep = keep
        self.db = os.path.join(self.dir, "leaseq.db")
        self.zmq_port = free_port()
        self.http_port = free_port()
        self.env = dict(os.environ, LEASEQ_DB=self.db,
                        LEASEQ_BROKER="tcp://127.0.0.1:%d" % self.zmq_port)
        self.procs = {}
        self.broker_args = list(broker_args)
        self.url = "http://127.0.0.1:%d" % self.http_port

    def start_broker(self, extra=()):
        args = [os.path.join(self.bin, "leaseq-broker"), "--http",
                "127.0.0.1:%d" % self.http_port] + self.broker_args + list(extra)
        self.procs["broker"] = self._spawn("broker", args)
        wait_for(lambda: self._up(), 15, "the broker's /healthz")

    def _up(self):
        try:
            return http(self.url + "/healthz", headers=self.auth())[0] == 200
        except OSError:
            return False

    def auth(self):
        return {}

    def _spawn(self, name, args):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        return subprocess.Popen(args, env=self.env, stdout=log, stderr=log)

    def worker(self, name, slots=1, extra=()):
        args = [os.path.join(self.bin, "leaseq-worker"), "--name", name, "--slots", str(slots)]
        self.procs[name] = self._spawn(name, args + list(extra))
        wait_for(lambda: self.query("SELECT count(*) FROM workers WHERE name = ? AND state = 'alive'",
                                    (name,)) == 1, 15, "worker " + name)
        return self.procs[name]

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs[name]
        p.send_signal(sig)
        p.wait(timeout=15)

    def submit(self, tasks):
        path = os.path.join(self.dir, "tasks-%d.jsonl" % time.monotonic_ns())
        with open(path, "w") as f:
            for t in tasks:
                f.write(json.dumps(t) + "\n")
        subprocess.run([os.path.join(self.bin, "leaseq-submit"), "--file", path], env=self.env,
                       check=True, stdout=subprocess.DEVNULL)

    def query(self, sql, params=()):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            row = con.execute(sql, params).fetchone()
            return row[0] if row and len(row) == 1 else row
        finally:
            con.close()

    def rows(self, sql, params=()):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def close(self):
        # Workers first: a worker's goodbye waits for the broker's answer.
        order = [n for n in self.procs if n != "broker"] + [n for n in self.procs if n == "broker"]
        for group in (order[:-1], order[-1:]):
            for name in group:
                if self.procs[name].poll() is None:
                    self.procs[name].send_signal(signal.SIGTERM)
            for name in group:
                try:
                    self.procs[name].wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.procs[name].kill()
                    self.procs[name].wait()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self, name):
        with open(os.path.join(self.dir, name + ".log"), errors="replace") as f:
            return f.read()
