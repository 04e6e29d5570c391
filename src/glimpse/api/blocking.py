"""Where the edge runs blocking service calls: on a worker thread, or inline for quick local reads.

Service methods are plain blocking Python. Handing one to a thread costs a
round trip between the event loop and the thread pool, which on two cores is
about as much as a whole cached image lookup on SQLite. So reads whose
reader is local (:attr:`glimpse.services.Services.reads_inline`: an SQLite
file in WAL mode, where readers never wait for writers; chosen once at start-up)
run inline on the event loop; anything that can wait (writes, which queue for
the write lock, network databases, store I/O) goes to a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from glimpse.services import Services

P = ParamSpec("P")
T = TypeVar("T")


async def read(services: Services, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``function(*args, **kwargs)``, a read that touches only the database, run where it is cheapest."""
    if services.reads_inline:
        return function(*args, **kwargs)
    return await run_in_threadpool(function, *args, **kwargs)
