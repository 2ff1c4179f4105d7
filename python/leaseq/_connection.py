"""Connection: the client's requests to the broker, in the manner of the
ZeroMQ guide's Lazy Pirate, with pipelining.

One DEALER socket sends requests, each with a fresh integer ``id``, and
matches the replies by it. Up to ``window`` requests are outstanding at
once, so that fetching 100,000 results costs 100,000 replies but not
100,000 round trips. When no reply comes within ``timeout`` seconds the
socket is closed (linger 0) and a new one resends what is still unanswered;
after ``tries`` silent tries in a row BrokerUnavailable is raised. Requests
are idempotent (submissions carry their keys), so a resend never duplicates
anything. With CURVE a socket monitor tells a refused handshake from
silence.

Thread-safe: a lock serialises the calls (one socket, one thread at a time).
"""

import collections
import os
import random
import threading
import time

import zmq

from . import _wire
from .errors import BrokerUnavailable


class Connection:
    def __init__(self, endpoint, curve=None, timeout=2.5, tries=3):
        if timeout <= 0 or tries < 1:
            raise ValueError("timeout must be > 0 and tries >= 1")
        self.endpoint = endpoint
        self.curve = curve
        self.timeout = float(timeout)
        self.tries = int(tries)
        self._lock = threading.Lock()
        self._context = None
        self._pid = None
        self._sock = None
        self._watch = None
        self._next_id = random.randrange(1 << 30)

    def _open(self):
        if self._context is None or self._pid != os.getpid():
            # A forked child gets a context of its own: ZeroMQ's cannot be shared.
            self._context = zmq.Context()
            self._pid = os.getpid()
            self._sock = None
        sock = self._context.socket(zmq.DEALER)
        _wire.apply_common_options(sock)
        sock.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            self.curve.apply(sock)
        watch = _wire.HandshakeWatch(sock, self.curve, self.endpoint)
        try:
            sock.connect(self.endpoint)
        except zmq.ZMQError as e:
            watch.stop()
            sock.close(linger=0)
            raise ValueError("bad broker endpoint %r: %s" % (self.endpoint, e)) from None
        self._sock, self._watch = sock, watch

    def _close(self):
        if self._sock is not None:
            self._watch.stop()
            self._sock.close(linger=0)
        self._sock = self._watch = None

    def close(self):
        with self._lock:
            if self._pid == os.getpid():
                self._close()
                if self._context is not None:
                    self._context.term()
            self._context = None

    def call(self, command, body=None, blobs=(), timeout=None):
        """One request; its reply as (command, body, blobs)."""
        return self.call_many([(command, body or {}, blobs)], timeout=timeout)[0]

    def call_many(self, requests, timeout=None, window=1000):
        """The replies (command, body, blobs) of requests [(command, body,
        blobs)], in order. Error replies are returned, not raised."""
        timeout = self.timeout if timeout is None else float(timeout)
        replies = [None] * len(requests)
        with self._lock:
            if self._pid is not None and self._pid != os.getpid():
                self._context = None  # forked: never touch the parent's sockets
            if self._sock is None or self._pid != os.getpid():
                self._open()
            to_send = collections.deque(range(len(requests)))
            pending = {}  # id -> index
            silent_tries = 0
            deadline = time.monotonic() + timeout
            while to_send or pending:
                while to_send and len(pending) < window:
                    i = to_send[0]
                    command, body, blobs = requests[i]
                    rid = self._next_id
                    self._next_id += 1
                    b = dict(body)
                    b["id"] = rid
                    try:
                        self._sock.send_multipart(_wire.encode(command, b, blobs), zmq.NOBLOCK)
                    except zmq.Again:
                        break  # no room yet: wait for the socket below
                    to_send.popleft()
                    pending[rid] = i
                left = deadline - time.monotonic()
                if left <= 0:
                    silent_tries += 1
                    if silent_tries >= self.tries:
                        self._raise_unavailable()
                    # Lazy Pirate: a new socket, and everything unanswered again.
                    to_send.extendleft(sorted(pending.values(), reverse=True))
                    pending.clear()
                    self._close()
                    self._open()
                    deadline = time.monotonic() + timeout
                    continue
                flags = zmq.POLLIN | (zmq.POLLOUT if to_send and len(pending) < window else 0)
                poller = zmq.Poller()
                poller.register(self._sock, flags)
                if self._watch.monitor is not None:
                    poller.register(self._watch.monitor, zmq.POLLIN)
                events = dict(poller.poll(max(1, int(min(left, 0.1) * 1000))))
                if self._watch.poll():
                    refusal = self._watch.refusal
                    self._close()
                    raise BrokerUnavailable(refusal)
                if not events.get(self._sock, 0) & zmq.POLLIN:
                    continue
                while True:
                    try:
                        frames = self._sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    try:
                        command, body, blobs = _wire.decode(frames)
                    except ValueError:
                        continue
                    i = pending.pop(body.get("id"), None)
                    if i is None:
                        continue  # a reply to an earlier try
                    replies[i] = (command, body, blobs)
                    silent_tries = 0
                    deadline = time.monotonic() + timeout
        return replies

    def _raise_unavailable(self):
        last = self._watch.last_failure if self._watch is not None else ""
        self._close()
        if last:
            hint = "; last handshake: " + last
        elif self.curve is not None:
            hint = (" (is it running? with CURVE, a broker that refuses our key, or whose key is "
                    "not %s, may also look like silence)" % self.curve.server_file)
        else:
            hint = (" (is it running? a broker that requires CURVE also refuses clients without "
                    "curve_secret/curve_server)")
        raise BrokerUnavailable("no answer from the broker at %s after %d tries of %d ms%s" % (
            self.endpoint, self.tries, int(self.timeout * 1000), hint))
