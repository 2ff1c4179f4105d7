"""A Python worker held to the C++ worker's tests: killed mid-task (its task
is reclaimed and blamed), drained (released without blame), frozen past its
lease (its stale result refused), name in use; a broker SIGKILLed and
restarted while a Python client waits; CURVE from Python; the seed example
under SIGTERM and SIGKILL."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import leaseq
import taskfns
from conftest import REPO, Cluster, bin_dir, wait_until


def running_on(client, key, worker):
    """The attempt of key running on worker, once there is one."""
    for a in client.show(key).get("attempts", []):
        if a.get("worker") == worker and a.get("outcome") == "running":
            return a
    return None


def test_killed_worker_tasks_are_reclaimed_and_blamed(cluster):
    a = cluster.worker(name="victim")
    c = cluster.client()
    h = c.submit(taskfns.slow, 1500, key="long")
    wait_until(lambda: running_on(c, "long", "victim"), what="the task running on victim")
    a.send_signal(signal.SIGKILL)
    a.wait()
    cluster.worker(name="rescuer")
    assert h.result(timeout=30) == 1500
    task = c.show("long")
    assert task["suspicious"] == 1
    outcomes = {(x["worker"], x["outcome"]) for x in task["attempts"]}
    assert outcomes == {("victim", "lost"), ("rescuer", "done")}


def test_drained_worker_releases_without_blame(cluster):
    a = cluster.worker(name="drained", extra=["--drain-timeout", "300ms", "--prefetch", "1"])
    c = cluster.client()
    running = c.submit(taskfns.slow, 2000, key="running")
    prefetched = c.submit(taskfns.slow, 10, key="prefetched")
    wait_until(lambda: running_on(c, "running", "drained"), what="the task running on drained")
    wait_until(lambda: any(w["name"] == "drained" and w.get("prefetched") == 1
                           for w in c.workers()), what="the second task prefetched")
    a.send_signal(signal.SIGTERM)
    assert a.wait(timeout=15) == 0
    for key in ("running", "prefetched"):
        task = c.show(key)
        assert task["suspicious"] == 0, task
        assert [x["outcome"] for x in task["attempts"]] == ["released"], task
        assert task["state"] == "queued"
    cluster.worker(name="after-drain", slots=2)
    assert c.gather([running, prefetched], timeout=30) == [2000, 10]
    with open(os.path.join(cluster.dir, "drained.log")) as f:
        assert "goodbye acknowledged" in f.read()


def log_says(cluster, name, text):
    with open(os.path.join(cluster.dir, name + ".log")) as f:
        return text in f.read()


def test_frozen_worker_stale_result_refused(cluster):
    a = cluster.worker(name="frozen")
    c = cluster.client()
    # Welcomed first: until then it knows only the default heartbeat (1 s x 3),
    # not the broker's 200 ms, and a shorter freeze looks like none.
    wait_until(lambda: log_says(cluster, "frozen", "registered with"), what="frozen welcomed")
    h = c.submit(taskfns.slow, 800, key="thaw")
    wait_until(lambda: running_on(c, "thaw", "frozen"), what="the task running on frozen")
    a.send_signal(signal.SIGSTOP)
    try:
        # Past its lease (200 ms x 3) the broker reclaims the task; another runs it.
        cluster.worker(name="thawed-out")
        assert h.result(timeout=30) == 800
    finally:
        a.send_signal(signal.SIGCONT)
    # The frozen worker finds out, registers again and drops its stale call;
    # its result, had it been sent, is refused: one done attempt, by the other.
    wait_until(lambda: any(w["name"] == "frozen" and w["state"] == "alive" and w["running"] == 0
                           for w in c.workers()), what="frozen back, holding nothing")
    task = c.show("thaw")
    outcomes = sorted((x["worker"], x["outcome"]) for x in task["attempts"])
    assert outcomes == [("frozen", "lost"), ("thawed-out", "done")]
    assert h.result() == 800
    assert log_says(cluster, "frozen", "registering again")


def test_name_in_use_exits_4(cluster):
    cluster.worker(name="twin")
    cluster.wait_registered("twin")
    other = cluster.worker(name="twin")
    assert other.wait(timeout=15) == 4
    with open(os.path.join(cluster.dir, "twin.log")) as f:
        assert "is in use by pid" in f.read()


def test_broker_killed_and_restarted_while_client_waits(cluster):
    cluster.worker(name="steady-1", slots=2)
    cluster.worker(name="steady-2", slots=2)
    c = cluster.client(timeout=0.5, tries=2)
    futures = c.map(taskfns.slow, [150] * 24, key="restart")
    out = {}

    def gather():
        try:
            out["values"] = c.gather(futures, timeout=60)
        except Exception as e:  # reported below
            out["error"] = e

    t = threading.Thread(target=gather)
    t.start()
    late = c.task("restart-23")  # a handle of its own, waited on during the outage
    wait_until(lambda: c.status()["counts"]["done"] >= 4, what="some tasks done")
    cluster.broker.send_signal(signal.SIGKILL)
    cluster.broker.wait()
    waiter = {}
    w = threading.Thread(target=lambda: waiter.setdefault("v", late.result(timeout=60)))
    w.start()
    cluster.start_broker()
    t.join(90)
    w.join(90)
    assert "error" not in out, out.get("error")
    assert out["values"] == [150] * 24
    assert waiter["v"] == 150
    # Each task done by exactly one accepted attempt.
    for f in futures:
        assert [x["outcome"] for x in c.show(f.key)["attempts"]].count("done") == 1


def keygen(path):
    subprocess.run([os.path.join(bin_dir(), "leaseq-ctl"), "keygen", path], check=True,
                   capture_output=True, timeout=30)


def test_curve_from_python(tmp_path):
    from conftest import Cluster
    keys = tmp_path / "keys"
    allow = tmp_path / "allow"
    allow.mkdir()
    for who in ("broker", "worker", "client", "stranger"):
        keygen(str(keys / who))
    for who in ("worker", "client"):
        (allow / (who + ".pub")).write_bytes((keys / (who + ".pub")).read_bytes())
    cl = Cluster(tmp_path, broker_args=["--curve-secret", str(keys / "broker.secret"),
                                        "--curve-allow", str(allow)])
    cl.start_broker()
    try:
        # The worker takes its keys from the environment, as the C++ tools do.
        cl.worker("taskfns:double", name="secure", env={
            "LEASEQ_CURVE_SECRET": str(keys / "worker.secret"),
            "LEASEQ_CURVE_SERVER": str(keys / "broker.pub")})
        c = cl.client(curve_secret=str(keys / "client.secret"),
                      curve_server=str(keys / "broker.pub"))
        assert c.submit(taskfns.double, 8).result(timeout=30) == 16
        stranger = leaseq.Client(cl.endpoint, curve_secret=str(keys / "stranger.secret"),
                                 curve_server=str(keys / "broker.pub"), timeout=2, tries=2)
        with pytest.raises(leaseq.BrokerUnavailable, match="refused"):
            stranger.status()
        stranger.close()
        with pytest.raises(leaseq.CurveError, match="public key"):
            leaseq.Client(cl.endpoint, curve_secret=str(keys / "client.pub"),
                          curve_server=str(keys / "broker.pub"))
        with pytest.raises(leaseq.CurveError, match="both"):
            leaseq.Client(cl.endpoint, curve_secret=str(keys / "client.secret"))
    finally:
        cl.stop()


@pytest.mark.parametrize("sig", ["TERM", "KILL"])
def test_seed_example(sig):
    p = subprocess.run([sys.executable, os.path.join(REPO, "examples", "python", "seed.py"),
                        "--bin", bin_dir(), "--signal", sig, "--timeout", "60",
                        # As the C++ scenario test: several preemptions land in the run.
                        "--kill-every", "0.5"],
                       capture_output=True, timeout=90)
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert "sum(range(400)) on cluster: 159600\t(should be 159600)\n" in out
    assert "workers preempted with SIG%s: " % sig in out
    assert "preempted with SIG%s: 0;" % sig not in out


class FakeBroker:
    """The broker's side of the protocol, by hand, on a real ROUTER socket:
    for orders of messages a real broker produces only in partitions."""

    def __init__(self, endpoint):
        import zmq
        from leaseq import _wire
        self._wire = _wire
        self.context = zmq.Context()
        self.sock = self.context.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.peer = None
        self.seen = []

    def next(self, command, timeout=15.0):
        """The body of the next message of this command from the worker."""
        import zmq
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sock.poll(50, zmq.POLLIN):
                frames = self.sock.recv_multipart()
                self.peer = frames[0]
                got, body, _ = self._wire.decode(frames[1:])
                self.seen.append((got, body))
                if got == command:
                    return body
        pytest.fail("no %s from the worker within %g s" % (command, timeout))

    def send(self, command, body=None):
        self.sock.send_multipart([self.peer] + self._wire.encode(command, body))

    def close(self):
        self.sock.close()
        self.context.term()


def test_a_task_before_the_welcome_waits_for_a_welcome_to_a_register_listing_it(tmp_path):
    # A task that reaches the worker while its register waits for a welcome
    # was sent before the broker read that register (held up by a partition,
    # or sent by a broker that restarted since): the welcome to that register
    # cannot say whether it is still the worker's. Here it was not: the
    # welcome to the register that lists it abandons it, and it never runs.
    cluster = Cluster(tmp_path)  # no broker of its own: the fake one takes its endpoint
    broker = FakeBroker(cluster.endpoint)
    marker = os.path.join(cluster.dir, "ran")
    try:
        worker = cluster.worker(name="early")
        first = broker.next("register")
        assert first["seq"] == 1 and first["queued"] == []
        broker.send("task", {"attempt": 7, "key": "k7", "attempt_no": 1,
                             "cmd": ["sh", "-c", "touch " + marker]})
        broker.send("welcome", {"heartbeat_ms": 200, "liveness": 3, "abandon": [], "seq": 1})
        second = broker.next("register")
        assert second["seq"] == 2 and second["queued"] == [7], second
        broker.send("welcome", {"heartbeat_ms": 200, "liveness": 3, "abandon": [7], "seq": 2})
        beat = broker.next("heartbeat")  # welcomed: it heartbeats, holding nothing
        assert beat == {"running": [], "queued": []}
        assert not os.path.exists(marker)
        wait_until(lambda: log_says(cluster, "early", "ignoring a welcome to a register from "
                                    "before the freeze (seq 1)"), what="the stale welcome logged")
        worker.send_signal(signal.SIGTERM)
        broker.next("goodbye")
        broker.send("ack", {"attempts": [], "goodbye": True})
        assert worker.wait(timeout=15) == 0
    finally:
        cluster.stop()
        broker.close()
