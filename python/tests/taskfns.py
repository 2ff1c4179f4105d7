"""Functions the test workers serve (imported by path, taskfns:NAME)."""

import time


def double(x):
    return 2 * x


def total(*xs):
    return sum(xs)


def slow(ms, value=None):
    time.sleep(ms / 1000.0)
    return value if value is not None else ms


def boom(text):
    raise ValueError("boom: %s" % text)


def upper(data):
    """A raw function: bytes in, bytes out (registered with --raw)."""
    return bytes(data).upper()
