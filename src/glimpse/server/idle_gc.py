"""Full garbage collections moved to moments a worker is idle.

CPython's collector scans its oldest generation (every long-lived object: the
caches of images and response bodies, connections, the application) now and
then on its own. In a worker holding a few thousand cached images that scan
takes 7-12 ms, during which every request on the worker waits; a few of those
during a busy minute set its p99 latency. Young generations, where almost all
garbage dies, are still collected as usual (well under a millisecond each).

:class:`IdleCollector` switches off the automatic full collection and does it
instead once the worker has served no request for :attr:`idle_seconds`, at
most every :attr:`least_interval` seconds, and, for a worker that is never
idle, at the latest every :attr:`longest_interval` seconds, so cyclic garbage
that reached the oldest generation is still freed.

Buys: the p99 of show c16 from 5.3 ms to 1.9–2.5 ms (fourth pass of
``docs/performance.md``). Internals: none of a library's; the count of
requests is uvicorn's ``ServerState.total_requests``, read by
:mod:`glimpse.server.worker_server`.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

#: A threshold for the oldest generation that the collector never reaches on its own.
_NEVER = 1 << 30


class IdleCollector:
    """Runs the full collection when the worker is idle; :meth:`tick` is called about once a second."""

    def __init__(self, *, idle_seconds: float = 1.0, least_interval: float = 30.0,
                 longest_interval: float = 300.0, started: float | None = None) -> None:
        self.idle_seconds = idle_seconds
        self.least_interval = least_interval
        self.longest_interval = longest_interval
        self._requests = -1
        self._busy_at = self._collected_at = time.monotonic() if started is None else started

    def install(self) -> None:
        young, middle, _oldest = gc.get_threshold()
        gc.set_threshold(young, middle, _NEVER)

    def tick(self, requests: int, now: float | None = None) -> bool:
        """Collect if due; ``requests`` is the worker's count of requests so far. True if it collected."""
        now = time.monotonic() if now is None else now
        if requests != self._requests:
            self._requests = requests
            self._busy_at = now
        since = now - self._collected_at
        idle = now - self._busy_at >= self.idle_seconds
        if not (since >= self.longest_interval or (idle and since >= self.least_interval)):
            return False
        started = time.perf_counter()
        found = gc.collect()
        self._collected_at = now
        log.debug("full garbage collection (%s): %d objects freed in %.1f ms", "idle" if idle else "overdue",
                  found, (time.perf_counter() - started) * 1000)
        return True
