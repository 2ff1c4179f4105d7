"""How Python values travel as a task's bytes, and how a Python function is
named in a task.

Inputs and results are bytes on the wire (a task's stdin and stdout). The
default convention is JSON Lines, which composes with ``after``:

* ``submit(fn, 1, "a")`` sends the input ``1\\n"a"\\n``: one JSON value a line;
* a task's stdin is its input followed by the results of the tasks it runs
  after, in that order (as for commands);
* the worker decodes every line of stdin and calls ``fn(*values)``: so
  ``multiply_by_two(x)`` gets one value, and ``total(*xs)`` submitted with
  ``after=[400 keys]`` gets the 400 results;
* the worker encodes the return value as one JSON line, and
  ``handle.result()`` decodes it.

Functions registered with ``raw=True`` (and handles of command tasks, or of
tasks submitted with ``input=`` bytes) skip the convention: bytes in, bytes
out.

A function task names its function with the ``fn`` field, as
``leaseq-submit --fn NAME`` does; a Python worker announces the names it has
in ``register``'s ``fns[]``, and the broker sends the task only to a worker
that has it. A function registered by import path (``"mymod:double"``) is
named by that path; a callable given to ``submit`` is named
``module:qualname`` (a function of the script run as ``__main__`` by the
script's file name, e.g. ``seed:multiply_by_two`` for seed.py, so that
workers can import it).
"""

import json
import os
import sys


def encode_args(args):
    """The input bytes for fn(*args): one JSON line per argument."""
    return b"".join(encode_value(a) for a in args)


def encode_value(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def decode_args(data):
    """The values of a task's stdin: one per non-blank line."""
    if not data:
        return []
    out = []
    for line in bytes(data).split(b"\n"):
        if line.strip():
            out.append(json.loads(line.decode("utf-8")))
    return out


def decode_result(data):
    """The value of a function's result (one JSON line); None for nothing."""
    values = decode_args(data)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values


def function_name(fn):
    """The ``fn`` field naming fn: a string as it is; a callable as
    ``module:qualname``."""
    if isinstance(fn, str):
        return fn
    name = getattr(fn, "__leaseq_name__", None)
    if name:
        return name
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError("%r has no import path: pass a module-level function, or a name a "
                         "worker registered with @worker.function(NAME)" % (fn,))
    if module in ("__main__", "__mp_main__"):
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None)
        spec = getattr(main, "__spec__", None)
        if spec is not None and spec.name and spec.name != "__main__":
            module = spec.name  # run as python -m package.module
        elif path:
            module = os.path.splitext(os.path.basename(path))[0]
        else:
            raise ValueError("%s is defined interactively: workers cannot import it; put it in a "
                             "module (or register it under a name)" % qualname)
    return "%s:%s" % (module, qualname)
