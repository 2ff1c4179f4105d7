"""The Python API end to end against the real broker: submit, map, gather,
as_completed, handles by key across processes, errors as a Python user
expects them."""

import os
import subprocess
import sys
import time

import pytest

import leaseq
import taskfns
from conftest import PYTHON_DIR, HERE, free_port, wait_until


def test_submit_map_gather_as_completed(cluster):
    cluster.worker(slots=4, name="api-1")
    c = cluster.client()
    h = c.submit(taskfns.double, 21)
    assert h.key.startswith("t-")
    assert h.result(timeout=20) == 42
    assert h.state() == "done" and h.done()

    futures = c.map(taskfns.double, range(50))
    assert c.gather(futures, timeout=30) == [2 * i for i in range(50)]
    seen = [f.key for f in c.as_completed(c.map(taskfns.slow, [30, 1, 60]), timeout=30)]
    assert len(seen) == 3

    # A task after others gets their results as arguments (JSON Lines).
    s = c.submit(taskfns.total, after=futures)
    assert s.result(timeout=20) == sum(2 * i for i in range(50))
    # By name, as the worker announced it; raw bytes in and out.
    u = c.submit("taskfns:upper", input=b"abc\xff")
    assert u.result(timeout=20) == b"ABC\xff"

    workers = {w["name"]: w for w in c.workers()}
    assert "taskfns:double" in workers["api-1"]["fns"]
    assert c.status()["counts"]["done"] == 50 + 3 + 3


def test_failures_cancel_retry_and_timeouts(cluster):
    cluster.worker(name="api-2", slots=2)
    c = cluster.client()
    bad = c.submit(taskfns.boom, "x")
    with pytest.raises(leaseq.TaskFailed) as e:
        bad.result(timeout=20)
    assert e.value.state == "failed"
    assert e.value.error.splitlines()[0] == "ValueError: boom: x"
    assert c.gather([bad], errors="skip") == []
    assert isinstance(c.gather([bad], errors="return")[0], leaseq.TaskFailed)

    cmd = c.submit(["sh", "-c", "echo out; echo why >&2; exit 3"])
    with pytest.raises(leaseq.TaskFailed, match="exit status 3: why"):
        cmd.result(timeout=20)

    # A function this worker lacks waits queued; a wait gives up, the task stays.
    nowhere = c.submit("nobody:has_this", 1)
    with pytest.raises(leaseq.WaitTimeout):
        nowhere.result(timeout=0.3)
    assert nowhere.state() == "queued"
    assert nowhere.cancel()
    with pytest.raises(leaseq.TaskFailed) as e:
        nowhere.result(timeout=5)
    assert e.value.state == "cancelled"

    # retry() puts a failed task back (it fails again: the same function).
    assert bad.retry()
    with pytest.raises(leaseq.TaskFailed):
        bad.result(timeout=20)
    assert len(c.show(bad.key)["attempts"]) == 2

    # A time limit: the call is abandoned, the attempt fails with it.
    limited = c.submit(taskfns.slow, 5000, timeout=0.3)
    with pytest.raises(leaseq.TaskFailed, match="timed out after 300ms"):
        limited.result(timeout=20)


def test_idempotent_resubmission_by_key(cluster):
    c = cluster.client()
    a = c.submit(taskfns.double, 5, key="same")
    again = c.submit(taskfns.double, 5, key="same")  # a no-op
    assert again.key == a.key == "same"
    assert c.status()["counts"]["queued"] == 1
    with pytest.raises(leaseq.Refused, match="same"):
        c.submit(taskfns.double, 6, key="same")
    # map with a key prefix: running the same map again stores nothing new.
    first = c.map(taskfns.double, range(10), key="batch")
    second = c.map(taskfns.double, range(10), key="batch")
    assert [h.key for h in first] == [h.key for h in second] == ["batch-%d" % i for i in range(10)]
    assert c.status()["counts"]["queued"] == 11
    cluster.worker(name="api-3", slots=2)
    assert c.gather(second, timeout=30) == [2 * i for i in range(10)]
    assert a.result(timeout=20) == 10


def test_refused_batch_names_its_line_and_stores_nothing(cluster):
    c = cluster.client()
    tasks = [{"fn": taskfns.double, "args": (1,), "key": "ok-1"},
             {"cmd": ["true"], "key": "ok-2"},
             {"fn": taskfns.double, "args": (2,), "key": "bad", "after": ["no-such-task"]}]
    with pytest.raises(leaseq.Refused) as e:
        c.submit_many(tasks)
    assert e.value.index == 2 and e.value.line == 3
    assert "no-such-task" in e.value.message
    assert "line 3" in str(e.value)
    assert sum(c.status()["counts"].values()) == 0  # nothing half-stored
    with pytest.raises(leaseq.UnknownTask):
        c.task("ok-1")
    with pytest.raises(ValueError, match="task 0"):
        c.submit_many([{"fn": taskfns.double, "args": (1,), "input": b"x"}])


def test_unreachable_broker_raises_after_the_timeout(tmp_path):
    c = leaseq.Client("tcp://127.0.0.1:%d" % free_port(), timeout=0.3, tries=2)
    started = time.monotonic()
    with pytest.raises(leaseq.BrokerUnavailable, match="no answer from the broker"):
        c.submit(taskfns.double, 1)
    assert 0.5 < time.monotonic() - started < 5
    c.close()


def test_handle_picked_up_by_key_in_another_process(cluster):
    c = cluster.client()
    # A program submits, then dies before the result.
    code = ("import leaseq, taskfns; c = leaseq.Client(%r); "
            "print(c.submit(taskfns.double, 4, key='survivor').key)" % cluster.endpoint)
    out = subprocess.run([sys.executable, "-c", code], env=cluster.env, capture_output=True,
                         timeout=30, check=True)
    assert out.stdout.decode().strip() == "survivor"
    cluster.worker(name="api-4")
    h = c.task("survivor")  # a new client, by key
    assert h.result(timeout=20) == 8
    with pytest.raises(leaseq.UnknownTask):
        c.task("never-submitted")


def test_command_worker_from_python(cluster):
    cluster.cxx_worker("--slots", "2")
    c = cluster.client()
    wc = c.submit(["wc", "-c"], input=b"hello")
    assert wc.result(timeout=20).strip() == b"5"
    echo = c.submit("echo", input="via leaseq-worker")
    assert echo.result(timeout=20) == b"via leaseq-worker"


def test_process_pool(cluster):
    cluster.worker("taskfns:double", name="proc-1", slots=2, extra=["--pool", "process"])
    c = cluster.client()
    assert c.gather(c.map(taskfns.double, range(8)), timeout=30) == [2 * i for i in range(8)]


def test_worker_cli_bad_import_path(cluster):
    p = subprocess.run([sys.executable, "-m", "leaseq.worker", "taskfns:no_such_function"],
                       env=cluster.env, capture_output=True, timeout=30)
    assert p.returncode == 2
    assert b"no_such_function" in p.stderr


def test_the_same_key_in_several_handles(cluster):
    cluster.worker(name="api-5")
    c = cluster.client()
    h = c.submit(taskfns.double, 3, key="twice")
    again = leaseq.Client(cluster.endpoint).task("twice")
    assert c.gather([h, again, h], timeout=20) == [6, 6, 6]
    assert len(list(c.as_completed([c.task("twice"), c.task("twice")]))) == 2
