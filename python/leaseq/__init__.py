"""leaseq for Python: a client (submit, map, gather, as_completed; handles
that survive the program and the broker) and a worker (Python functions by
name or import path, the same worker protocol as leaseq-worker).

    import leaseq
    client = leaseq.Client()                     # $LEASEQ_BROKER
    futures = client.map(multiply_by_two, range(400))
    print(sum(client.gather(futures)))

See python/README.md.
"""

from .client import Client, Task, generate_key
from ._worker import Worker, NameInUse, resolve
from .errors import (BrokerUnavailable, CurveError, LeaseqError, Refused, TaskFailed,
                     UnknownTask, WaitTimeout)

__version__ = "0.2.0"

__all__ = ["Client", "Task", "Worker", "generate_key", "resolve", "LeaseqError",
           "BrokerUnavailable", "CurveError", "Refused", "TaskFailed", "UnknownTask",
           "WaitTimeout", "NameInUse"]
