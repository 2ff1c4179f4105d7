"""The leaseq wire protocol (docs/protocol.md), the environment defaults and
CURVE key files, shared by the client and the worker.

A message is ZeroMQ frames: b"LEASEQ1", the command name, a JSON object
(UTF-8), then up to 64 raw blobs. Environment variables and key files are
those of the C++ tools: LEASEQ_BROKER (default tcp://127.0.0.1:5555),
LEASEQ_CURVE_SECRET (our .secret file: one line of 40 Z85 characters, the
secret key; the public key is derived from it) and LEASEQ_CURVE_SERVER (the
broker's .pub file), as written by ``leaseq-ctl keygen PATH``.

Functions here are thread-safe; sockets are not (each belongs to one
thread at a time).
"""

import json
import os

import zmq

from .errors import CurveError

HEADER = b"LEASEQ1"
MAX_BLOBS = 64
MAX_MESSAGE_BYTES = 512 << 20  # ZMQ_MAXMSGSIZE of every leaseq socket
DEFAULT_BROKER = "tcp://127.0.0.1:5555"
ENV_BROKER = "LEASEQ_BROKER"
ENV_CURVE_SECRET = "LEASEQ_CURVE_SECRET"
ENV_CURVE_SERVER = "LEASEQ_CURVE_SERVER"
KEY_TEXT_LENGTH = 40
_Z85 = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


def broker_from_env():
    return os.environ.get(ENV_BROKER) or DEFAULT_BROKER


def encode(command, body=None, blobs=()):
    """The frames of one message (without a routing id)."""
    frames = [HEADER, command.encode(), json.dumps(body or {}, separators=(",", ":")).encode()]
    for b in blobs:
        frames.append(b if isinstance(b, (bytes, bytearray, memoryview)) else str(b).encode())
    return frames


def decode(frames):
    """(command, body dict, blobs list), or raises ValueError for a message
    that is not leaseq's."""
    if len(frames) < 3 or len(frames) > 3 + MAX_BLOBS:
        raise ValueError("malformed message: %d frames" % len(frames))
    if bytes(frames[0]) != HEADER:
        raise ValueError("unsupported protocol header")
    body = json.loads(bytes(frames[2]).decode("utf-8", "replace"))
    if not isinstance(body, dict):
        raise ValueError("malformed body: not a JSON object")
    return bytes(frames[1]).decode("ascii", "replace"), body, [bytes(f) for f in frames[3:]]


def apply_common_options(sock):
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    sock.setsockopt(zmq.SNDHWM, 100000)
    sock.setsockopt(zmq.RCVHWM, 100000)


def _read_key_file(path, what):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("ascii", "replace").strip()
    except OSError as e:
        raise CurveError("cannot read %s %s: %s" % (what, path, e.strerror)) from None
    if len(text) != KEY_TEXT_LENGTH or any(c not in _Z85 for c in text):
        raise CurveError("%s: not a CURVE key (expected one line of %d Z85 characters, as "
                         "leaseq-ctl keygen writes)" % (path, KEY_TEXT_LENGTH))
    return text.encode("ascii")


class CurveSettings:
    """A worker's or client's CURVE key pair and the broker's public key,
    from two files; ``None`` settings mean a plain connection."""

    def __init__(self, secret_file, server_file):
        if secret_file.endswith(".pub"):
            raise CurveError("%s is a public key: give our .secret file (leaseq-ctl keygen "
                             "writes PATH.secret and PATH.pub)" % secret_file)
        if server_file.endswith(".secret"):
            raise CurveError("%s is a secret key: give the broker's .pub file (a secret is "
                             "never given to anyone else)" % server_file)
        if not zmq.has("curve"):
            raise CurveError("this libzmq has no CURVE support")
        self.secret_file = secret_file
        self.server_file = server_file
        self.secret = _read_key_file(secret_file, "CURVE secret key file")
        self.public = zmq.curve_public(self.secret)
        self.server = _read_key_file(server_file, "CURVE server key file")

    @staticmethod
    def load(secret_file=None, server_file=None):
        """Each absent argument replaced by its environment variable
        (LEASEQ_CURVE_SECRET, LEASEQ_CURVE_SERVER); both absent: None."""
        secret_file = secret_file or os.environ.get(ENV_CURVE_SECRET) or ""
        server_file = server_file or os.environ.get(ENV_CURVE_SERVER) or ""
        if not secret_file and not server_file:
            return None
        if not secret_file or not server_file:
            raise CurveError("CURVE needs both our .secret file (curve_secret, %s) and the "
                             "broker's .pub file (curve_server, %s)" % (ENV_CURVE_SECRET, ENV_CURVE_SERVER))
        return CurveSettings(secret_file, server_file)

    def apply(self, sock):
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret)


class HandshakeWatch:
    """Watches a connecting socket's monitor events, so that a refused CURVE
    handshake is told apart from silence (as the C++ HandshakeMonitor).
    Used by the socket's own thread; stop() before closing that socket."""

    _EVENTS = (getattr(zmq, "EVENT_HANDSHAKE_FAILED_AUTH", 0)
               | getattr(zmq, "EVENT_HANDSHAKE_FAILED_PROTOCOL", 0)
               | getattr(zmq, "EVENT_HANDSHAKE_FAILED_NO_DETAIL", 0)
               | getattr(zmq, "EVENT_HANDSHAKE_SUCCEEDED", 0))

    def __init__(self, sock, curve, endpoint):
        self.curve = curve
        self.endpoint = endpoint
        self.refusal = ""
        self.last_failure = ""
        self._no_detail = 0
        self.handshakes = 0  # succeeded: a change is a connection made
        self._sock = sock
        self.monitor = sock.get_monitor_socket(self._EVENTS) if self._EVENTS else None

    def poll(self):
        """Reads waiting events; True when the broker definitively refused us."""
        if self.monitor is None:
            return False
        from zmq.utils.monitor import recv_monitor_message
        while True:
            try:
                ev = recv_monitor_message(self.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return bool(self.refusal)
            except zmq.ZMQError:
                return bool(self.refusal)
            e = ev["event"]
            if e == getattr(zmq, "EVENT_HANDSHAKE_SUCCEEDED", -1):
                self.handshakes += 1
                self._no_detail = 0
                self.last_failure = ""
            elif e == getattr(zmq, "EVENT_HANDSHAKE_FAILED_AUTH", -1):
                who = ("our key (%s)" % self.curve.secret_file) if self.curve else "this client"
                self.refusal = ("the broker at %s refused %s: it is not in the broker's "
                                "--curve-allow directory" % (self.endpoint, who))
            elif e == getattr(zmq, "EVENT_HANDSHAKE_FAILED_PROTOCOL", -1):
                self.refusal = ("the CURVE handshake with %s failed: CURVE on one side only "
                                "(a broker with --curve-secret needs curve_secret/curve_server, "
                                "and one without refuses them)" % self.endpoint)
            elif e == getattr(zmq, "EVENT_HANDSHAKE_FAILED_NO_DETAIL", -1):
                self._no_detail += 1
                self.last_failure = "the broker closed the connection in the handshake"
                if self.curve is not None and self._no_detail >= 3:
                    self.refusal = ("the broker at %s closed every CURVE handshake: is %s its "
                                    "public key?" % (self.endpoint, self.curve.server_file))

    def stop(self):
        if self.monitor is None:
            return
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close(linger=0)
        self.monitor = None
