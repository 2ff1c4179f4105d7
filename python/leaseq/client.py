"""Client: submits tasks to a leaseq broker and follows them, from Python.

Every task has a key, and a handle (Task) is nothing but a client and a key:
the task lives in the broker's database, not in this process, so a handle
survives the program that made it (``client.task(key)`` in another process
picks it up again) and a broker restart (waits ride out an outage of up to
``max_outage`` seconds). Keys not given are generated here, before sending,
so that a retried request never duplicates a task; submitting a key again
with the same fields is a no-op, with other fields a Refused error.

Submissions are all or nothing: ``submit_many`` sends one JSON Lines
submission, as ``leaseq-submit --file`` does, and a bad task refuses the
whole of it (Refused names its index and line).

Thread-safe: calls from several threads are serialised on one connection.
"""

import datetime
import secrets
import time

from . import _wire, codec
from ._connection import Connection
from .errors import BrokerUnavailable, Refused, TaskFailed, UnknownTask, WaitTimeout

TERMINAL = ("done", "failed", "cancelled")
_SUBMIT_ENVELOPE = 4096


def generate_key():
    """A fresh key, in the form of leaseq-submit's: t- and 24 hex digits."""
    return "t-" + secrets.token_hex(12)


def _duration_ms(value, field):
    """Seconds (a number), a timedelta, or duration text ("30s", "1m30s")."""
    if value is None:
        return None
    if isinstance(value, str):
        return value  # the broker parses and checks it, as in a task file
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be seconds, a timedelta or a duration such as '30s'" % field)
    ms = int(round(value * 1000))
    if ms <= 0:
        raise ValueError("%s must be longer than 0" % field)
    return ms


def _time_ms(value):
    """An aware datetime, seconds since the epoch, or RFC 3339 text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("not_before must be a datetime with a time zone")
        return int(round(value.timestamp() * 1000))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("not_before must be a datetime, seconds since 1970 or RFC 3339 text")
    return int(round(value * 1000))


def _put_input(line, data):
    if not data:
        return
    try:
        line["input"] = data.decode("utf-8")
    except UnicodeDecodeError:
        import base64
        line["input_base64"] = base64.b64encode(data).decode("ascii")


def _as_key(x):
    return x.key if isinstance(x, Task) else str(x)


class Task:
    """A handle on one task, by key. Cheap; holds no state of the task but
    what it has already seen finish."""

    def __init__(self, client, key, raw=False):
        self.client = client
        self.key = key
        self.raw = raw  # result(): bytes (True) or the JSON Lines value (False)
        self._final = None  # (state, result bytes) once terminal and fetched

    def __repr__(self):
        return "<leaseq.Task %s%s>" % (self.key, " " + self._final[0] if self._final else "")

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, Task) and other.key == self.key

    def state(self):
        """waiting, queued, running, done, failed or cancelled."""
        if self._final is not None:
            return self._final[0]
        state, result = self.client._fetch(self.key)
        if state in TERMINAL:
            self._final = (state, result)
        return state

    def done(self):
        """True once the task is done, failed or cancelled."""
        return self.state() in TERMINAL

    def wait(self, timeout=None):
        """Blocks until the task is terminal; returns its state. WaitTimeout
        after timeout seconds (the task keeps running)."""
        self.client._wait_one(self, timeout)
        return self._final[0]

    def result(self, timeout=None):
        """The task's result once done: bytes for a raw task (a command, or
        input given as bytes), else the decoded JSON value. Raises
        TaskFailed (with the task's error text) if it failed or was
        cancelled, WaitTimeout after timeout seconds."""
        self.client._wait_one(self, timeout)
        state, data = self._final
        if state != "done":
            raise self.client._failure(self.key, state)
        return data if self.raw else codec.decode_result(data)

    def result_bytes(self, timeout=None):
        """The task's stdout as bytes, whatever its convention."""
        self.client._wait_one(self, timeout)
        state, data = self._final
        if state != "done":
            raise self.client._failure(self.key, state)
        return data

    def exception(self, timeout=None):
        """None when done, else the TaskFailed that result() would raise."""
        self.client._wait_one(self, timeout)
        if self._final[0] == "done":
            return None
        return self.client._failure(self.key, self._final[0])

    def cancel(self):
        """Cancels it (a running command is killed; dependents fail). True if
        this changed its state."""
        changed = self.client.cancel([self.key])
        self._final = None
        return bool(changed)

    def retry(self):
        """Puts a failed or cancelled task back in the queue. True if this
        changed its state."""
        changed = self.client.retry([self.key])
        self._final = None
        return bool(changed)

    def info(self):
        """The task and its attempts, as ``leaseq-ctl show`` prints them."""
        return self.client.show(self.key)


class Client:
    """A connection to a broker.

    broker: its endpoint (default $LEASEQ_BROKER, else tcp://127.0.0.1:5555).
    curve_secret / curve_server: our .secret file and the broker's .pub file
    (default $LEASEQ_CURVE_SECRET / $LEASEQ_CURVE_SERVER; neither: no CURVE).
    timeout / tries: how long one try of a request waits (seconds) and how
    many tries before BrokerUnavailable. max_outage: how long a wait keeps
    polling a broker that does not answer (a restart) before giving up.
    """

    def __init__(self, broker=None, curve_secret=None, curve_server=None, timeout=2.5,
                 tries=3, max_outage=60.0, poll_interval=0.2):
        self.broker = broker or _wire.broker_from_env()
        self.curve = _wire.CurveSettings.load(curve_secret, curve_server)
        self.max_outage = float(max_outage)
        self.poll_interval = float(poll_interval)
        self._conn = Connection(self.broker, self.curve, timeout=timeout, tries=tries)

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<leaseq.Client %s%s>" % (self.broker, " curve" if self.curve else "")

    # -- requests ---------------------------------------------------------

    def _call(self, command, body=None, blobs=(), timeout=None):
        reply, rbody, rblobs = self._conn.call(command, body or {}, blobs, timeout=timeout)
        self._check(reply, rbody)
        return rbody, rblobs

    @staticmethod
    def _check(reply, body):
        if reply != "error":
            return
        message = body.get("message") or "the broker refused the request"
        if body.get("unavailable"):
            raise BrokerUnavailable(message)
        if message.startswith("no task with key "):
            raise UnknownTask(message[len("no task with key "):].strip("'"))
        index = body.get("index")
        raise Refused(message, index if isinstance(index, int) else None)

    # -- submission -------------------------------------------------------

    def _line(self, fn=None, args=(), cmd=None, input=None, key=None, after=None, retries=None,
              priority=None, queue=None, timeout=None, delay=None, not_before=None, raw=None):
        """One task as a JSON Lines object, and whether its result is raw."""
        if isinstance(fn, (list, tuple)) and cmd is None:
            fn, cmd = None, fn
        if (fn is None) == (cmd is None):
            raise ValueError("give a function (fn) or a command (cmd), one of the two")
        line = {"key": key if key is not None else generate_key()}
        if cmd is not None:
            if isinstance(cmd, str):
                raise TypeError("cmd is a list of arguments (run without a shell), not a string")
            line["cmd"] = [str(c) for c in cmd]
        else:
            line["fn"] = codec.function_name(fn)
        if args and input is not None:
            raise ValueError("give arguments (JSON-encoded) or input= (raw bytes), not both")
        if args:
            data, is_raw = codec.encode_args(args), False
        elif input is not None:
            data = input.encode("utf-8") if isinstance(input, str) else bytes(input)
            is_raw = True
        else:
            data, is_raw = b"", cmd is not None
        if raw is not None:
            is_raw = bool(raw)
        _put_input(line, data)
        if after:
            if isinstance(after, (str, Task)):
                after = [after]
            line["after"] = [_as_key(a) for a in after]
        if retries is not None:
            line["retries"] = int(retries)
        if priority is not None:
            line["priority"] = int(priority)
        if queue is not None:
            line["queue"] = queue
        for field, value in (("timeout", _duration_ms(timeout, "timeout")),
                             ("delay", _duration_ms(delay, "delay")),
                             ("not_before", _time_ms(not_before))):
            if value is not None:
                line[field] = value
        return line, is_raw

    def submit(self, fn=None, *args, cmd=None, input=None, key=None, after=None, retries=None,
               priority=None, queue=None, timeout=None, delay=None, not_before=None, raw=None):
        """Stores one task and returns its handle once the broker committed it.

        fn: a function (a callable, or a name a worker registered) called as
        fn(*args) on a worker, args JSON-encoded; or cmd (a list: argv, run
        without a shell), also accepted in place of fn. input: raw stdin
        bytes (or text) instead of args. after: keys or handles this task
        runs after (their results follow its input on stdin). retries,
        priority, queue as in a task file; timeout (each attempt's limit) and
        delay in seconds, a timedelta or duration text; not_before an aware
        datetime, epoch seconds or RFC 3339 text.
        """
        line, is_raw = self._line(fn, args, cmd, input, key, after, retries, priority, queue,
                                  timeout, delay, not_before, raw)
        return self._submit_lines([line], [is_raw])[0]

    def submit_many(self, tasks):
        """Stores several tasks all or nothing (one JSON Lines submission, as
        ``leaseq-submit --file``): their handles, in order. Each task is a
        dict with the keyword arguments of submit (fn or cmd, args (a
        tuple), input, key, after, retries, priority, queue, timeout, delay,
        not_before, raw). A bad task raises Refused naming its index and line;
        nothing is stored then."""
        lines, raws = [], []
        for i, t in enumerate(tasks):
            if not isinstance(t, dict):
                raise TypeError("task %d: expected a dict of submit's arguments" % i)
            t = dict(t)
            args = tuple(t.pop("args", ()))
            try:
                line, is_raw = self._line(args=args, **t)
            except TypeError as e:
                raise TypeError("task %d (line %d of the submission): %s" % (i, i + 1, e)) from None
            except ValueError as e:
                raise ValueError("task %d (line %d of the submission): %s" % (i, i + 1, e)) from None
            lines.append(line)
            raws.append(is_raw)
        return self._submit_lines(lines, raws)

    def _submit_lines(self, lines, raws):
        if not lines:
            return []
        import json
        blob = "".join(json.dumps(l, separators=(",", ":"), ensure_ascii=False) + "\n"
                       for l in lines).encode("utf-8")
        if len(blob) + _SUBMIT_ENVELOPE > _wire.MAX_MESSAGE_BYTES:
            raise ValueError("the submission is %d bytes, more than one message can carry (%d "
                             "bytes): submit it in parts" % (len(blob), _wire.MAX_MESSAGE_BYTES))
        # The broker validates and commits every task before it answers: give a
        # big submission time (1 ms per task, 1 MB/s: ~20 times what it needs
        # on an idle machine). A retry sent too early makes the broker check
        # the whole submission again, which on a loaded machine can repeat.
        timeout = max(self._conn.timeout, len(lines) / 1000.0, len(blob) / 1e6)
        self._call("submit", {}, [blob], timeout=timeout)
        return [Task(self, l["key"], r) for l, r in zip(lines, raws)]

    def map(self, fn, *iterables, key=None, after=None, retries=None, priority=None, queue=None,
            timeout=None, raw=None):
        """fn(*items) for each item of zip(*iterables), submitted all or
        nothing: the handles, in order. key: a prefix; the tasks are then
        KEY-0, KEY-1, ... so that running the same map again is a no-op
        (without it, keys are generated)."""
        tasks = []
        for i, items in enumerate(zip(*iterables)):
            tasks.append({"fn": fn, "args": items,
                          "key": None if key is None else "%s-%d" % (key, i), "after": after,
                          "retries": retries, "priority": priority, "queue": queue,
                          "timeout": timeout, "raw": raw})
        return self.submit_many(tasks)

    def task(self, key, raw=None):
        """The handle of a stored task (UnknownTask if there is none). raw:
        None decides as submit did for the usual cases: a command's result
        is bytes, a function's a JSON value."""
        info = self.show(key)
        if raw is None:
            raw = info.get("fn") is None
        return Task(self, key, raw)

    # -- following tasks --------------------------------------------------

    def _fetch(self, key):
        body, blobs = self._call("fetch", {"key": key})
        return body.get("state"), (blobs[0] if blobs else b"")

    def _failure(self, key, state):
        try:
            error = self.show(key).get("error") or ""
        except UnknownTask:
            error = "purged"
        return TaskFailed(key, state, error)

    def _outage(self, started, deadline, exc):
        """Called when the broker did not answer during a wait: raises once
        the outage is longer than max_outage or the deadline passed."""
        now = time.monotonic()
        if now - started > self.max_outage:
            raise BrokerUnavailable("%s; gave up waiting after %.0f s without an answer"
                                    % (exc, now - started)) from None
        if deadline is not None and now >= deadline:
            raise WaitTimeout("gave up waiting: the broker did not answer (%s)" % exc) from None

    def _wait_one(self, handle, timeout):
        if handle._final is not None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.01
        outage_since = None
        while True:
            try:
                state = handle.state()
                outage_since = None
            except BrokerUnavailable as e:
                outage_since = outage_since or time.monotonic()
                self._outage(outage_since, deadline, e)
                state = None
            if state in TERMINAL:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout("task %s is still %s after %g s; it keeps running"
                                  % (handle.key, state, timeout))
            time.sleep(pause if deadline is None else max(0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, self.poll_interval)

    def _poll_chunks(self, pending, chunk, need_all):
        """One round over the pending handles (a dict key -> [handles]):
        states per chunk, then fetches for the chunks worth it. Returns the
        handles found terminal (their results fetched)."""
        keys = list(pending)
        chunks = [keys[i:i + chunk] for i in range(0, len(keys), chunk)]
        if need_all:
            # Tasks go out about in the order submitted: until the first chunk
            # is finished, asking about the others only costs the broker.
            chunks = chunks[:1]
        replies = self._conn.call_many([("states", {"keys": c}, ()) for c in chunks])
        to_fetch = []
        for c, (reply, body, _) in zip(chunks, replies):
            self._check(reply, body)
            if body.get("missing"):
                raise UnknownTask(body["missing"][0])
            counts = body.get("counts", {})
            terminal = sum(counts.get(s, 0) for s in TERMINAL)
            if terminal == len(c) or (terminal > 0 and not need_all):
                to_fetch.extend(c)
        finished = []
        if to_fetch:
            replies = self._conn.call_many([("fetch", {"key": k}, ()) for k in to_fetch])
            for k, (reply, body, blobs) in zip(to_fetch, replies):
                self._check(reply, body)
                if body.get("state") in TERMINAL:
                    for h in pending[k]:  # a key may be given by several handles
                        h._final = (body["state"], blobs[0] if blobs else b"")
                        finished.append(h)
        return finished

    def _completions(self, handles, timeout, chunk, need_all):
        pending = {}
        for h in handles:
            if h._final is not None:
                yield h
            else:
                pending.setdefault(h.key, []).append(h)
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.01
        outage_since = None
        while pending:
            try:
                finished = self._poll_chunks(pending, chunk, need_all)
                outage_since = None
            except BrokerUnavailable as e:
                outage_since = outage_since or time.monotonic()
                self._outage(outage_since, deadline, e)
                finished = []
            for h in finished:
                pending.pop(h.key, None)
                yield h
            if not pending:
                return
            if finished:
                pause = 0.01
                continue
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout("%d task(s) not finished after %g s; they keep running"
                                  % (len(pending), timeout))
            time.sleep(pause)
            pause = min(pause * 2, self.poll_interval)

    def as_completed(self, handles, timeout=None):
        """Yields the handles as their tasks finish (done, failed or
        cancelled), in the order they finish (as the polls see it).
        WaitTimeout after timeout seconds."""
        handles = list(handles)
        # Small chunks: one finished task costs fetching its chunk.
        return self._completions(handles, timeout, 256, need_all=False)

    def wait(self, handles, timeout=None):
        """Blocks until every task is terminal; returns {state: count}."""
        handles = list(handles)
        for _ in self._completions(handles, timeout, 2000, need_all=True):
            pass
        counts = {}
        for h in handles:
            counts[h._final[0]] = counts.get(h._final[0], 0) + 1
        return counts

    def gather(self, handles, errors="raise", timeout=None):
        """The results of the handles, in order, once all are terminal.
        errors: "raise" (TaskFailed for the first task, in order, that
        failed or was cancelled), "skip" (leave those out) or "return" (their
        TaskFailed in their place)."""
        if errors not in ("raise", "skip", "return"):
            raise ValueError("errors must be 'raise', 'skip' or 'return'")
        handles = list(handles)
        self.wait(handles, timeout)
        out = []
        for h in handles:
            if h._final[0] == "done":
                out.append(h._final[1] if h.raw else codec.decode_result(h._final[1]))
            elif errors == "raise":
                raise self._failure(h.key, h._final[0])
            elif errors == "return":
                out.append(self._failure(h.key, h._final[0]))
        return out

    # -- the queue --------------------------------------------------------

    def status(self):
        """Counts by state and queue, live workers (the broker's status reply)."""
        body, _ = self._call("status")
        body.pop("id", None)
        return body

    def workers(self):
        """The workers the broker knows: name, pid, host, state, slots,
        queues, fns, running, prefetched."""
        body, _ = self._call("workers")
        return body.get("workers", [])

    def show(self, key):
        """The task (every column but its result) with its attempts."""
        body, _ = self._call("show", {"key": _as_key(key)})
        return body.get("task", {})

    def cancel(self, keys):
        """Cancels tasks by key or handle; the keys whose state changed."""
        body, _ = self._call("cancel", {"keys": [_as_key(k) for k in keys]})
        return body.get("changed", [])

    def retry(self, keys):
        """Puts failed or cancelled tasks back; the keys whose state changed."""
        body, _ = self._call("retry", {"keys": [_as_key(k) for k in keys]})
        return body.get("changed", [])
