"""The exceptions of the leaseq package.

Every exception it raises on purpose is a LeaseqError, so that one
``except leaseq.LeaseqError`` catches them all; each also derives from the
built-in exception a Python user would expect (ConnectionError for a broker
that does not answer, ValueError for a refused request, TimeoutError for a
wait that ran out, KeyError for an unknown key).
"""


class LeaseqError(Exception):
    """Base of every leaseq exception."""


class BrokerUnavailable(LeaseqError, ConnectionError):
    """The broker did not answer within the client's timeout and tries, or
    answered that it cannot do it now (its disk is full: nothing was stored;
    the same request may succeed later)."""


class CurveError(LeaseqError):
    """CURVE settings that cannot work: a missing or bad key file, only one of
    the two files, or a broker that refused our key in the handshake."""


class Refused(LeaseqError, ValueError):
    """The broker refused a request; nothing of it was stored.

    ``message`` is the broker's own text. For a submission of several tasks
    ``index`` is the 0-based position of the task it names and ``line`` its
    1-based line in the JSON Lines submission (None for other requests)."""

    def __init__(self, message, index=None):
        self.message = message
        self.index = index
        self.line = None if index is None else index + 1
        if index is None:
            super().__init__(message)
        else:
            super().__init__("task %d (line %d of the submission): %s" % (index, index + 1, message))


class UnknownTask(LeaseqError, KeyError):
    """No task of that key is stored (never submitted, or purged)."""

    def __init__(self, key):
        self.key = key
        super().__init__(key)

    def __str__(self):
        return "no task with key %r is stored" % (self.key,)


class TaskFailed(LeaseqError):
    """The task ended failed or cancelled. ``key``, ``state`` ("failed" or
    "cancelled") and ``error``: the task's error text as the broker stored it
    (e.g. ``exit status 3: boom``, or a Python traceback's last line)."""

    def __init__(self, key, state, error):
        self.key = key
        self.state = state
        self.error = error or ""
        super().__init__("task %s %s: %s" % (key, state, self.error))


class WaitTimeout(LeaseqError, TimeoutError):
    """A wait ran out before the task(s) finished; they keep running."""
