"""Worker: a leaseq worker process in Python, speaking the worker protocol of
docs/protocol.md as leaseq-worker does:

* register (name, pid, session, host, slots, prefetch, queues, fns[]: the
  names of its Python functions, running[]: the attempts it holds) /
  welcome (abandon[]: drop those), reregister, error (name_in_use: leave;
  name_reserved: ask again every heartbeat);
* heartbeats every heartbeat_ms listing the attempts it holds (running, and
  finished with a result not yet acknowledged) and those prefetched and not
  started (queued[]); a prefetched task that starts is announced by a
  heartbeat at once, so that a task that kills the worker is blamed;
* after heartbeat_ms x liveness of silence from the broker the socket is
  closed and reopened (backoff 250 ms doubling to 2 s), keeping its tasks
  and results; results are re-sent until an ack names them;
* a loop that stood still past its leases (SIGSTOP, a suspended VM) starts
  nothing until a new welcome says which attempts are still its own;
* abort: a command is killed, a function call abandoned (it runs to its end
  and its result is dropped; its slot is free at once); time limits
  (timeout_ms) likewise, with the result "timed out after 30s";
* SIGTERM / SIGINT (or stop()): drain: ready 0, release of the prefetched
  tasks, running ones get drain_timeout seconds (then are killed or
  abandoned, and released), results delivered, goodbye acknowledged. A
  second signal leaves at once.

Tasks: a ``fn`` task runs one of the worker's functions (see codec.py for
the JSON Lines convention; ``raw=True`` functions get and return bytes) on a
thread (pool="thread", the default) or in a process of a pool
(pool="process": for CPU-bound Python, the functions must be importable);
a ``cmd`` task runs the command (argv, no shell) with the task's input on
stdin, LEASEQ_TASK_KEY and LEASEQ_ATTEMPT in its environment, as
leaseq-worker does, since the broker sends command tasks to any worker of
the queue.

Not thread-safe but for stop(): run() is called by one thread (the main
thread to get the signal handlers).
"""

import collections
import ctypes
import importlib
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

import zmq

from . import _wire, codec
from .errors import LeaseqError

HEARTBEAT_MS = 1000
LIVENESS = 3
RECONNECT_INITIAL_MS = 250
RECONNECT_MAX_MS = 2000
DRAIN_TIMEOUT = 25.0
ACK_WAIT_MS = 2000
MAX_POLL_MS = 100
SIGTERM_HOLD_MS = 1000
TIMEOUT_GRACE_MS = 2000
STDERR_TAIL = 2048
ERROR_TAIL = 4096
EXIT_NAME_IN_USE = 4

_RUNNING, _DRAINING, _FLUSHING, _LEAVING, _DONE = range(5)

try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _prctl = _libc.prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent():
    # In the child, before exec: a command dies with the worker thread that
    # started it (PR_SET_PDEATHSIG), as leaseq-worker's commands do.
    if _prctl is not None:
        _prctl(1, signal.SIGKILL)


def _now_ms():
    return int(time.monotonic() * 1000)


def format_duration(ms):
    """As leaseq-submit writes a duration: 1500ms, 30s, 1m30s, 2h."""
    if ms <= 0:
        return "0s"
    if ms % 1000:
        return "%dms" % ms
    s, out = ms // 1000, ""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            out += "%d%s" % (s // size, unit)
            s %= size
    return out


def resolve(path):
    """The object at an import path "package.module:qualname"."""
    if ":" not in path:
        raise ValueError("%r is not an import path (module:function)" % path)
    module_name, qualname = path.split(":", 1)
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError("%s is not callable" % path)
    return obj


def call_function(fn, raw, data):
    """Runs fn on a task's stdin: (ok, output bytes, error text). Module
    level, so that a process pool can run it."""
    try:
        if raw:
            out = fn(data)
            if out is None:
                out = b""
            elif isinstance(out, str):
                out = out.encode("utf-8")
            return True, bytes(out), ""
        value = fn(*codec.decode_args(data))
        return True, codec.encode_value(value), ""
    except BaseException as e:  # a task's failure, whatever it is, is its result
        text = "".join(traceback.format_exception_only(type(e), e)).strip()
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        error = text + "\n" + tb
        if len(error) > ERROR_TAIL:
            error = text + "\n..." + tb[-(ERROR_TAIL - len(text)):]
        return False, b"", error


class _Threads:
    """Threads that run jobs; a new one is started when none is idle, so an
    abandoned call (it cannot be stopped) never takes a slot from the next
    task."""

    def __init__(self):
        self._jobs = collections.deque()
        self._cv = threading.Condition()
        self._idle = 0

    def start(self, job):
        with self._cv:
            self._jobs.append(job)
            if self._idle > 0:
                self._idle -= 1
                self._cv.notify()
                return
        threading.Thread(target=self._loop, daemon=True, name="leaseq-task").start()

    def _loop(self):
        while True:
            with self._cv:
                while not self._jobs:
                    self._cv.wait()
                job = self._jobs.popleft()
            job()
            with self._cv:
                self._idle += 1


class _Attempt:
    __slots__ = ("key", "deadline_ms", "timeout_ms", "kill_at_ms", "killed", "proc",
                 "abandoned", "ended", "hold_until_ms", "is_call")

    def __init__(self, key):
        self.key = key
        self.deadline_ms = 0
        self.timeout_ms = 0
        self.kill_at_ms = 0
        self.killed = False
        self.proc = None
        self.abandoned = False
        self.ended = None  # a command's outcome, held until hold_until_ms
        self.hold_until_ms = 0
        self.is_call = False


class NameInUse(LeaseqError):
    """The broker refused our name: another live worker holds it."""


class Worker:
    """A worker process in Python.

    broker, curve_secret, curve_server: as Client (the same environment
    defaults). name: unique among live workers (default host-pid-8hex).
    slots: tasks run at once. prefetch: tasks held beyond the slots (default:
    as many as slots). queues: those it serves. pool: "thread" or "process".
    drain_timeout: seconds running tasks get on SIGTERM.
    """

    def __init__(self, broker=None, name=None, slots=1, prefetch=None, queues=("default",),
                 pool="thread", curve_secret=None, curve_server=None,
                 drain_timeout=DRAIN_TIMEOUT, log=None):
        if slots < 1:
            raise ValueError("slots must be at least 1")
        if pool not in ("thread", "process"):
            raise ValueError("pool must be 'thread' or 'process'")
        self.broker = broker or _wire.broker_from_env()
        self.curve = _wire.CurveSettings.load(curve_secret, curve_server)
        host = socket.gethostname() or "localhost"
        self.host = host
        self.name = name or "%s-%d-%s" % (host, os.getpid(), "%08x" % random.getrandbits(32))
        self.slots = int(slots)
        self.prefetch = self.slots if prefetch is None or prefetch < 0 else int(prefetch)
        self.queues = list(queues)
        self.pool = pool
        self.drain_timeout_ms = int(drain_timeout * 1000)
        self.session = "%032x" % random.getrandbits(128)
        self.functions = {}  # name -> (callable, raw)
        self._log_file = log if log is not None else sys.stderr
        self._stop_requests = 0
        self._wake_r = self._wake_w = None

    # -- functions --------------------------------------------------------

    def function(self, name=None, raw=False):
        """Decorator: registers the function under name (default
        module:qualname, which is what Client.submit(fn) sends)."""
        def register(fn):
            self.add(fn, name=name, raw=raw)
            return fn
        return register

    def add(self, fn, name=None, raw=False):
        """Registers a callable, or an import path "module:function" (then
        named by that path unless name is given). Returns the name."""
        if isinstance(fn, str):
            path = fn
            fn = resolve(path)
            name = name or path
        else:
            name = name or codec.function_name(fn)
            if name != codec.function_name(fn) and getattr(fn, "__leaseq_name__", None) is None:
                try:
                    fn.__leaseq_name__ = name  # so that submit(fn) names it the same
                except (AttributeError, TypeError):
                    pass
        if not name or len(name.encode()) > 128 or any(
                not (c.isalnum() or c in "_-.:/") for c in name):
            raise ValueError("function name %r: 1 to 128 letters, digits and _ - . : /" % name)
        if name in self.functions:
            raise ValueError("function %r is registered twice" % name)
        self.functions[name] = (fn, bool(raw))
        return name

    # -- logging ----------------------------------------------------------

    def log(self, line):
        if self._log_file is None:
            return
        try:
            self._log_file.write("%s leaseq-worker[%s] %s\n" % (
                time.strftime("%Y-%m-%dT%H:%M:%S"), self.name, line))
            self._log_file.flush()
        except (OSError, ValueError):
            pass

    # -- control ----------------------------------------------------------

    def stop(self):
        """Begins the drain (as SIGTERM); a second call leaves at once.
        Thread-safe."""
        self._stop_requests += 1
        self._wake()

    def _wake(self):
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _on_signal(self, signum, frame):
        self._stop_requests += 1

    # -- the loop ---------------------------------------------------------

    def run(self):
        """Runs until drained. Returns 0 after a clean exit; raises NameInUse
        when the broker refused our name."""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        old_handlers, old_wakeup = {}, None
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                old_handlers[sig] = signal.signal(sig, self._on_signal)
            old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        try:
            return self._run()
        finally:
            if old_handlers:
                signal.set_wakeup_fd(old_wakeup)
                for sig, h in old_handlers.items():
                    signal.signal(sig, h)
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = None

    def _run(self):
        self._context = zmq.Context()
        self._threads = _Threads()
        self._executor = None
        if self.pool == "process" and self.functions:
            import concurrent.futures
            import multiprocessing
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.slots, mp_context=multiprocessing.get_context("forkserver"))
        self._finished = collections.deque()  # (attempt id, token, outcome) from the threads
        self._running = {}  # attempt id -> _Attempt
        self._queue = collections.deque()  # (attempt id, task body, blobs): prefetched
        self._reported_queued = set()
        self._announce_start = False
        self._results = {}  # attempt id -> [frames, sent_ms]
        self._unsent_releases = []
        self._phase = _RUNNING
        self._phase_deadline = 0
        self._goodbye_acked = False
        self._refused = None
        self._reserved_logged = False
        self._heartbeat_ms = HEARTBEAT_MS
        self._liveness = LIVENESS
        self._welcomed = False
        self._register_sent = -1 << 62
        self._register_wanted = False
        self._register_seq = 0  # of the last register sent; welcomes echo it
        self._first_current_seq = 0  # welcomes to older registers are ignored
        self._next_heartbeat = 0
        self._sock = None
        self._watch = None
        self._last_tick = 0
        self._handshakes_seen = 0
        self._backoff = RECONNECT_INITIAL_MS
        self._reconnect_at = 0
        self._last_heard = 0
        self._seen_stops = 0
        now = _now_ms()
        self._open(now)
        self._send_register(now)
        try:
            while self._phase != _DONE:
                self._poll(now)
                before, now = now, _now_ms()
                if now - before > MAX_POLL_MS + self._silence():
                    self.log("frozen for %d ms: registering again" % (now - before))
                    self._register_again_before_starting()
                elif self._sock is not None and \
                        now - self._last_heard > MAX_POLL_MS + self._silence():
                    # A stall too short for a freeze that slept through the
                    # silence check: what waits in the socket may have come
                    # after that moment and been reclaimed meanwhile.
                    self.log("woke %d ms after the previous step, past the broker's silence "
                             "limit: registering again" % (now - before))
                    self._register_again_before_starting()
                self._handle_signals(now)
                self._pump(now)
                self._handle_messages(now)
                if self._refused is not None:
                    break
                self._handle_timers(now)
            self._kill_and_release_all()
            if self._refused is not None:
                self._close(0)
                raise NameInUse(self._refused)
            if self._goodbye_acked:
                self.log("exit: goodbye acknowledged")
            else:
                if self._sock is not None:
                    self._send("goodbye")
                self.log("exit: goodbye not acknowledged (%d result(s) unacknowledged); unless it "
                         "arrives, what this worker held is reclaimed as lost" % len(self._results))
            self._close(500)
            return 0
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            self._close(0)
            self._context.term()

    def _silence(self):
        return self._heartbeat_ms * self._liveness

    def _register_again_before_starting(self):
        """After a freeze: what this worker holds may no longer be its own.
        It registers again at once and starts nothing until a welcome answers
        that register; welcomes already waiting answer an older one."""
        self._welcomed = False
        self._register_wanted = True
        self._register_sent = -1 << 62
        self._first_current_seq = self._register_seq + 1

    # -- the link (Paranoid Pirate) ---------------------------------------

    def _open(self, now):
        self._close(0)
        sock = self._context.socket(zmq.DEALER)
        _wire.apply_common_options(sock)
        if self.curve is not None:
            self.curve.apply(sock)
        self._watch = _wire.HandshakeWatch(sock, self.curve, self.broker)
        sock.connect(self.broker)
        self._sock = sock
        self._last_heard = now
        self._last_tick = now
        self._handshakes_seen = 0

    def _close(self, linger_ms):
        if self._sock is None:
            return
        self._watch.stop()
        self._sock.close(linger=linger_ms)
        self._sock = self._watch = None

    def _send(self, command, body=None, blobs=()):
        return self._send_frames(_wire.encode(command, body or {}, blobs))

    def _send_frames(self, frames):
        """Without blocking; False when closed or the queue is full."""
        if self._sock is None:
            return False
        try:
            self._sock.send_multipart(frames, zmq.NOBLOCK)
            return True
        except zmq.ZMQError:
            return False

    def _tick_link(self, now):
        previous_tick, self._last_tick = self._last_tick, now
        if self._sock is not None and self._watch.poll():
            self.log("%s; retrying (backoff up to %d ms)" % (self._watch.refusal, RECONNECT_MAX_MS))
            self._watch.refusal = ""
            self._close(0)
            self._reconnect_at = now + self._backoff
            self._backoff = min(self._backoff * 2, RECONNECT_MAX_MS)
            return "lost"
        if self._sock is not None and self._watch.handshakes != self._handshakes_seen:
            # A connection made: the registers queued meanwhile reach the
            # broker only now, so its answer gets a full silence period,
            # from the last look before the connection was seen (not from
            # now: a stall of this loop would stretch it; docs/protocol.md).
            self._handshakes_seen = self._watch.handshakes
            self._last_heard = max(self._last_heard, previous_tick)
        if self._sock is not None and now - self._last_heard >= self._silence():
            self._close(0)
            self._reconnect_at = now + self._backoff
            self.log("no word from the broker at %s for %d ms: reconnecting in %d ms"
                     % (self.broker, now - self._last_heard, self._backoff))
            self._backoff = min(self._backoff * 2, RECONNECT_MAX_MS)
            return "lost"
        if self._sock is None and now >= self._reconnect_at:
            self._open(now)
            return "reopened"
        return None

    # -- one pass ---------------------------------------------------------

    def _poll(self, now):
        poller = zmq.Poller()
        if self._sock is not None:
            poller.register(self._sock, zmq.POLLIN)
            if self._watch.monitor is not None:
                poller.register(self._watch.monitor, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        deadline = now + MAX_POLL_MS
        deadline = min(deadline, self._last_heard + self._silence() if self._sock is not None
                       else self._reconnect_at)
        if self._welcomed:
            deadline = min(deadline, self._next_heartbeat)
        if self._phase != _RUNNING:
            deadline = min(deadline, self._phase_deadline)
        deadline = min(deadline, self._next_timeout())
        if self._finished or self._stop_requests != self._seen_stops:
            deadline = now
        try:
            poller.poll(max(0, deadline - now))
        except zmq.ZMQError:
            pass
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _handle_signals(self, now):
        while self._seen_stops < self._stop_requests:
            self._seen_stops += 1
            if self._phase == _RUNNING:
                self._begin_drain(now)
            elif self._phase != _DONE:
                self.log("second stop signal: killing %d running task(s) and leaving now"
                         % len(self._running))
                self._kill_and_release_all()
                self._phase = _DONE

    def _pump(self, now):
        self._enforce_timeouts(now)
        while self._finished:
            attempt, token, outcome = self._finished.popleft()
            a = self._running.get(attempt)
            if a is None or a is not token:
                continue  # abandoned meanwhile
            if a.is_call:
                del self._running[attempt]
                self._send_result(attempt, outcome, now)
                continue
            if a.kill_at_ms:
                outcome = self._timed_out(a, outcome)
                a.hold_until_ms = now
            else:
                a.hold_until_ms = now + SIGTERM_HOLD_MS if outcome["signal"] == signal.SIGTERM else now
            a.ended = outcome
        for attempt in list(self._running):
            a = self._running[attempt]
            if a.ended is None:
                continue
            if self._phase != _RUNNING and not a.kill_at_ms and a.ended["signal"] == signal.SIGTERM:
                # Stopped with us (a preemption signals the whole job), not failed.
                self.log("task attempt %d ended by SIGTERM while draining: handing it back" % attempt)
                del self._running[attempt]
                self._release([attempt])
            elif now >= a.hold_until_ms:
                del self._running[attempt]
                self._send_result(attempt, a.ended, now)
        self._start_queued(now)

    def _handle_messages(self, now):
        while self._sock is not None:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self._last_heard = now
            try:
                command, body, blobs = _wire.decode(frames)
            except ValueError as e:
                self.log("ignoring a bad message from the broker: %s" % e)
                continue
            if command == "task" and not self._welcomed:
                # Sent before the broker read our register (it welcomes before
                # it leases anything after one), so not listed in it: the
                # welcome to it cannot say whether the task is ours. Register
                # again, listing it, and take only the welcome to that one.
                self._register_wanted = True
                self._register_sent = -1 << 62
                self._first_current_seq = self._register_seq + 1
            if command == "welcome":
                self._on_welcome(body, now)
            elif command == "task":
                self._on_task(body, blobs, now)
            elif command == "abort":
                for a in body.get("attempts", []):
                    self._forget(a)
            elif command == "ack":
                for a in body.get("attempts", []):
                    self._results.pop(a, None)
                if self._phase == _LEAVING and body.get("goodbye") is True:
                    self._goodbye_acked = True
                    self._phase = _DONE
            elif command == "reregister":
                self._welcomed = False
                self._register_wanted = True
            elif command == "error":
                self._on_error(body)
                if self._refused is not None:
                    return
        self._start_queued(now)

    def _handle_timers(self, now):
        event = self._tick_link(now)
        if event == "lost":
            self._welcomed = False
        elif event == "reopened":
            self._send_register(now)
        if self._register_wanted and now - self._register_sent >= self._heartbeat_ms:
            self._send_register(now)
        if self._welcomed and self._phase != _LEAVING and now >= self._next_heartbeat:
            self._send_heartbeat(now)
        if self._welcomed:
            for r in self._results.values():
                if now - r[1] >= self._silence():
                    self._send_frames(r[0])
                    r[1] = now
        if self._phase == _DRAINING and (not self._running or now >= self._phase_deadline):
            if self._running:
                self.log("drain timeout: killing and releasing %d task(s)" % len(self._running))
            self._kill_and_release_all()
            self._phase = _FLUSHING
            self._phase_deadline = max(self._phase_deadline, now + ACK_WAIT_MS)
            if not self._welcomed:
                self.log("the broker is unreachable: waiting up to %d ms to hand back what this "
                         "worker held (a second signal leaves now)" % (self._phase_deadline - now))
        if (self._phase == _FLUSHING and self._welcomed and not self._results
                and not self._unsent_releases):
            self._send("goodbye")
            self._phase = _LEAVING
        if self._phase in (_FLUSHING, _LEAVING) and now >= self._phase_deadline:
            self._phase = _DONE

    # -- broker messages --------------------------------------------------

    def _on_welcome(self, body, now):
        seq = body.get("seq")
        if isinstance(seq, int) and seq < self._first_current_seq:
            self.log("ignoring a welcome to a register from before the freeze (seq %d)" % seq)
            return
        hb, live = body.get("heartbeat_ms"), body.get("liveness")
        if isinstance(hb, int) and 0 < hb <= 3600000:
            self._heartbeat_ms = hb
        if isinstance(live, int) and 0 < live <= 1000:
            self._liveness = live
        abandon = body.get("abandon", [])
        for a in abandon:
            self._forget(a)
        self._welcomed = True
        self._backoff = RECONNECT_INITIAL_MS
        self._next_heartbeat = now + self._heartbeat_ms
        self.log("registered with %s (heartbeat %d ms x %d, %d running, %d abandoned, %d "
                 "result(s) to deliver)" % (self.broker, self._heartbeat_ms, self._liveness,
                                            len(self._running), len(abandon), len(self._results)))
        if self._unsent_releases:
            ids, self._unsent_releases = self._unsent_releases, []
            self._release(ids)
        for r in self._results.values():
            self._send_frames(r[0])
            r[1] = now
        if self._phase == _LEAVING:
            self._phase = _FLUSHING  # a goodbye answered by reregister: say it again
        if self._phase != _RUNNING:
            self._send("ready", {"slots": 0})

    def _on_task(self, body, blobs, now):
        attempt = body.get("attempt")
        if not isinstance(attempt, int):
            self.log("ignoring a task without an attempt id")
            return
        if attempt in self._running or attempt in self._results:
            return
        if any(q[0] == attempt for q in self._queue):
            return
        if self._phase != _RUNNING:
            if self._welcomed:
                self._send("ready", {"slots": 0})
            self._release([attempt])
            return
        if self._welcomed and len(self._running) < self.slots and not self._queue:
            self._start_task(attempt, body, blobs, now)
        elif len(self._queue) < self.prefetch + max(0, self.slots - len(self._running)):
            # Within the credit given: the prefetch and the free slots (a
            # task for a free slot waits here for a welcome).
            self._queue.append((attempt, body, blobs))
        else:
            self._release([attempt])  # more than the credit we gave

    def _on_error(self, body):
        message = body.get("message") or "?"
        code = body.get("code")
        if code == "name_in_use":
            self._refused = message + "; every worker needs a name of its own (--name)"
            self._phase = _DONE
        elif code == "name_reserved":
            if not self._reserved_logged:
                self.log(message + "; asking again every heartbeat")
            self._reserved_logged = True
            self._register_wanted = True
        else:
            self.log("the broker reports an error: " + message)

    # -- tasks ------------------------------------------------------------

    def _start_queued(self, now):
        current = self._welcomed and self._sock is not None and \
            now - self._last_heard < self._silence()
        while (self._phase == _RUNNING and current and self._queue
               and len(self._running) < self.slots):
            attempt, body, blobs = self._queue.popleft()
            self._start_task(attempt, body, blobs, now)
        if self._announce_start and self._welcomed:
            self._send_heartbeat(now)

    def _start_task(self, attempt, body, blobs, now):
        # The broker counts a prefetched attempt as not started until we say so.
        if attempt in self._reported_queued or body.get("prefetched") is True:
            self._reported_queued.discard(attempt)
            self._announce_start = True
        key = body.get("key")
        a = _Attempt(key if isinstance(key, str) else "")
        timeout_ms = body.get("timeout_ms")
        if isinstance(timeout_ms, int) and timeout_ms > 0:
            a.timeout_ms = timeout_ms
            a.deadline_ms = now + timeout_ms
        data = blobs[0] if blobs else b""
        fn = body.get("fn")
        if fn is not None:
            entry = self.functions.get(fn) if isinstance(fn, str) else None
            if entry is None:
                self._send_result(attempt, self._failure("this worker has no in-process function "
                                                         "'%s'" % fn), now)
                return
            a.is_call = True
            self._running[attempt] = a
            self._start_call(attempt, a, entry, data)
            return
        cmd = body.get("cmd")
        if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
            self._send_result(attempt, self._failure("the task has an empty command"), now)
            return
        attempt_no = body.get("attempt_no", 0)
        self._running[attempt] = a
        env = dict(os.environ, LEASEQ_TASK_KEY=a.key, LEASEQ_ATTEMPT=str(attempt_no))
        self._threads.start(lambda: self._run_command(attempt, a, cmd, data, env))

    def _deliver(self, attempt, token, outcome):
        self._finished.append((attempt, token, outcome))
        self._wake()

    def _start_call(self, attempt, a, entry, data):
        fn, raw = entry
        if self._executor is not None:
            future = self._executor.submit(call_function, fn, raw, data)

            def done(f):
                try:
                    ok, out, err = f.result()
                except BaseException as e:  # the pool broke, or fn cannot be pickled
                    ok, out, err = False, b"", "%s: %s" % (type(e).__name__, e)
                self._deliver(attempt, a, self._outcome(ok, out, err))
            future.add_done_callback(done)
            return

        def job():
            ok, out, err = call_function(fn, raw, data)
            self._deliver(attempt, a, self._outcome(ok, out, err))
        self._threads.start(job)

    @staticmethod
    def _outcome(ok, out, err):
        if ok:
            return {"exit_code": 0, "signal": 0, "error": "", "output": out}
        # exit_code -1, signal 0: no process ended; the broker stores the text as it is.
        return {"exit_code": -1, "signal": 0, "error": err, "output": b""}

    @staticmethod
    def _failure(text, permanent=False, exit_code=-1):
        return {"exit_code": exit_code, "signal": 0, "error": text, "output": b"",
                "permanent": permanent}

    def _run_command(self, attempt, a, cmd, data, env):
        """On a thread: runs the command to its end; its outcome to the loop."""
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True,
                                    close_fds=True, preexec_fn=_die_with_parent)
        except FileNotFoundError:
            self._deliver(attempt, a, self._failure("no such command: " + cmd[0], True, 127))
            return
        except PermissionError as e:
            self._deliver(attempt, a, self._failure("cannot execute %s: %s" % (cmd[0], e.strerror),
                                                    True, 127))
            return
        except OSError as e:
            self._deliver(attempt, a, self._failure("cannot execute %s: %s" % (cmd[0], e.strerror)))
            return
        a.proc = proc
        if a.abandoned:
            self._kill_group(proc, signal.SIGKILL)
        try:
            out, err = proc.communicate(data)
        except OSError as e:  # pragma: no cover
            out, err = b"", str(e).encode()
        rc = proc.returncode
        outcome = {"exit_code": rc if rc >= 0 else -1, "signal": -rc if rc < 0 else 0,
                   "error": err[-STDERR_TAIL:].decode("utf-8", "replace") if rc != 0 else "",
                   "output": out if rc == 0 else b""}
        self._deliver(attempt, a, outcome)

    @staticmethod
    def _kill_group(proc, sig):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _abandon(self, a):
        """A command is killed, a call abandoned (it runs on; its output is
        dropped because its token is no longer in _running)."""
        a.abandoned = True
        if a.proc is not None and a.proc.returncode is None:
            self._kill_group(a.proc, signal.SIGKILL)

    def _enforce_timeouts(self, now):
        for attempt in list(self._running):
            a = self._running[attempt]
            if not a.deadline_ms or now < a.deadline_ms or a.ended is not None:
                continue
            if a.is_call:
                del self._running[attempt]
                a.abandoned = True
                self._send_result(attempt, self._failure(
                    "timed out after %s (the function call was abandoned: it runs on, its output "
                    "dropped)" % format_duration(a.timeout_ms)), now)
            elif a.proc is not None and not a.kill_at_ms:
                self._kill_group(a.proc, signal.SIGTERM)
                a.kill_at_ms = now + TIMEOUT_GRACE_MS
                self.log("task %s timed out after %s: SIGTERM sent to its process group"
                         % (a.key, format_duration(a.timeout_ms)))
            elif a.proc is not None and not a.killed and now >= a.kill_at_ms:
                self._kill_group(a.proc, signal.SIGKILL)
                a.killed = True

    def _next_timeout(self):
        nxt = 1 << 62
        for a in self._running.values():
            if not a.deadline_ms or a.killed or a.ended is not None:
                continue
            nxt = min(nxt, a.kill_at_ms or a.deadline_ms)
        return nxt

    @staticmethod
    def _timed_out(a, ended):
        error = "timed out after %s (%s)" % (
            format_duration(a.timeout_ms),
            "SIGTERM, then SIGKILL %s later, to its process group" % format_duration(TIMEOUT_GRACE_MS)
            if a.killed else "SIGTERM to its process group")
        if ended.get("error"):
            error += "; stderr: " + ended["error"]
        return {"exit_code": -1, "signal": 0, "error": error, "output": b""}

    def _forget(self, attempt):
        a = self._running.pop(attempt, None)
        if a is not None:
            self._abandon(a)
        self._results.pop(attempt, None)
        self._reported_queued.discard(attempt)
        for i, q in enumerate(self._queue):
            if q[0] == attempt:
                del self._queue[i]
                break

    # -- messages sent ----------------------------------------------------

    def _held(self):
        return sorted(list(self._running) + list(self._results))

    def _send_register(self, now):
        body = {"name": self.name, "pid": os.getpid(), "session": self.session,
                "host": self.host, "slots": self.slots if self._phase == _RUNNING else 0,
                "prefetch": self.prefetch, "queued": [q[0] for q in self._queue],
                "queues": self.queues, "fns": sorted(self.functions), "running": self._held()}
        self._register_seq += 1
        body["seq"] = self._register_seq
        self._send("register", body)
        self._register_sent = now
        self._register_wanted = False

    def _send_result(self, attempt, outcome, now):
        body = {"attempt": attempt, "exit_code": outcome["exit_code"],
                "signal": outcome["signal"], "error": outcome["error"]}
        if outcome.get("permanent"):
            body["permanent"] = True
        frames = _wire.encode("result", body, [outcome["output"]])
        self._results[attempt] = [frames, now]
        if self._welcomed:
            self._send_frames(frames)

    def _release(self, attempts):
        if not attempts:
            return
        if self._welcomed and self._send("release", {"attempts": list(attempts)}):
            return
        self._unsent_releases.extend(attempts)

    def _send_heartbeat(self, now):
        queued = [q[0] for q in self._queue]
        self._send("heartbeat", {"running": self._held(), "queued": queued})
        self._reported_queued = set(queued)
        self._announce_start = False
        self._next_heartbeat = now + self._heartbeat_ms

    def _begin_drain(self, now):
        self.log("draining: no new work; %d running task(s) get up to %d ms"
                 % (len(self._running), self.drain_timeout_ms))
        self._phase = _DRAINING
        self._phase_deadline = now + self.drain_timeout_ms
        if self._welcomed:
            self._send("ready", {"slots": 0})
        queued = [q[0] for q in self._queue]
        self._queue.clear()
        self._reported_queued.clear()
        self._release(queued)

    def _kill_and_release_all(self):
        ids = list(self._running) + [q[0] for q in self._queue]
        for a in self._running.values():
            self._abandon(a)
        self._running.clear()
        self._queue.clear()
        self._reported_queued.clear()
        self._release(ids)
