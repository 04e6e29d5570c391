"""The node's Prometheus metrics, shared by all worker processes of a node.

``glimpse-api`` points ``PROMETHEUS_MULTIPROC_DIR`` at a directory of its own
(:func:`prepare_multiprocess`, cleaned at start): every worker writes its
counters to memory-mapped files there, a worker that exits is marked dead
(:func:`worker_exited`, so its gauges stop counting) and a scrape served by any
worker reads them all (:func:`render`). Without that directory (an application
built in-process, as the fast test tier does) the metrics live in this process.

A request is recorded in this process's memory (a dictionary entry per route,
method and status) and flushed into the shared files at most a second later
and before every scrape this worker answers (:meth:`Metrics.flush`): a
scrape may miss up to a second of another worker's requests, and the per-request
cost stays about 1 µs instead of about 6 µs of locked memory-mapped writes.
The flush adds histogram sums and buckets directly (``Histogram``'s ``_sum``
and ``_buckets``, private to prometheus_client; ``tests/observability`` has a
contract test naming them).
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import multiprocess as _multiprocess
from prometheus_client import values as _values
from prometheus_client.registry import Collector

#: The environment variable prometheus_client's multiprocess mode reads.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Content type of the text exposition format.
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
#: Request latency buckets, in seconds: metadata calls take milliseconds, transfers minutes.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   300.0, float("inf"))
#: The route label of a request no route matched (keeps the label set small whatever paths clients try).
UNMATCHED = "unmatched"


def prepare_multiprocess(directory: Path) -> None:
    """Empty ``directory`` and make every metric created from now on in this process (and its forks)
    write there. Call once in the parent, before the workers are forked."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus_client picks its value class when imported; the application imported it already.
    _values.ValueClass = _values.get_value_class()  # type: ignore[no-untyped-call]
    global _metrics
    _metrics = None


def worker_exited(pid: int) -> None:
    """A worker process ended: its live gauges (transfers in flight, connections) no longer count."""
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Metrics:
    """Every metric a node records, with cached label children for the per-request ones."""

    def __init__(self) -> None:
        multi = bool(os.environ.get(MULTIPROC_ENV))
        #: where single-process metrics are registered (unused for values in multiprocess mode)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        live: Literal["livesum", "all"] = "livesum" if multi else "all"
        self.requests = Counter("glimpse_http_requests", "HTTP requests answered, by route template, method "
                                "and status", ["route", "method", "status"], registry=r)
        self.latency = Histogram("glimpse_http_request_duration_seconds", "Time from request to the end of "
                                 "the response, by route template and method", ["route", "method"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.received = Counter("glimpse_http_received_bytes", "Request body bytes received, by route template",
                                ["route"], registry=r)
        self.sent = Counter("glimpse_http_sent_bytes", "Response body bytes sent, by route template",
                            ["route"], registry=r)
        self.in_flight = Gauge("glimpse_transfers_in_flight", "Image data uploads and downloads in progress",
                               ["direction"], registry=r, multiprocess_mode=live)
        self.store_latency = Histogram("glimpse_store_operation_duration_seconds", "Store driver calls, by store "
                                       "and operation (a put lasts as long as its upload)",
                                       ["store", "operation"], buckets=LATENCY_BUCKETS, registry=r)
        self.store_errors = Counter("glimpse_store_operation_errors", "Store driver calls that raised, by store "
                                    "and operation", ["store", "operation"], registry=r)
        self.db_in_use = Gauge("glimpse_db_connections_in_use", "Database connections checked out of the pools",
                               registry=r, multiprocess_mode=live)
        self.db_connects = Counter("glimpse_db_connections_opened", "Database connections the pools opened",
                                   registry=r)
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}
        #: requests recorded since the last flush: key -> [count, seconds, received, sent, *bucket counts]
        self._pending: dict[tuple[str, str, int], list[float]] = {}
        atexit.register(self.flush)

    def request(self, route: str, method: str, status: int, seconds: float, received: int, sent: int) -> None:
        """Record one answered request (in this process's memory until :meth:`flush`).

        Call it, and :meth:`flush`, from one thread: the worker's event loop.
        """
        key = (route, method, status)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = [0.0] * (4 + len(LATENCY_BUCKETS))
        entry[0] += 1
        entry[1] += seconds
        entry[2] += received
        entry[3] += sent
        entry[4 + bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1

    @property
    def pending(self) -> bool:
        """Are there requests recorded but not yet flushed?"""
        return bool(self._pending)

    def flush(self) -> None:
        """Add the requests recorded since the last flush to the shared metrics (a few memory-mapped writes
        per route, method and status seen, instead of five per request)."""
        pending, self._pending = self._pending, {}
        for (route, method, status), entry in pending.items():
            children = self._request_children.get((route, method, status))
            if children is None:
                children = (self.requests.labels(route, method, str(status)), self.latency.labels(route, method),
                            self.received.labels(route), self.sent.labels(route))
                self._request_children[(route, method, status)] = children
            count, latency, received_bytes, sent_bytes = children
            count.inc(entry[0])
            # Histogram.observe() per request would cost a locked write each; add the sums at once instead.
            latency._sum.inc(entry[1])
            for index, observed in enumerate(entry[4:]):
                if observed:
                    latency._buckets[index].inc(observed)
            if entry[2]:
                received_bytes.inc(entry[2])
            if entry[3]:
                sent_bytes.inc(entry[3])

    @contextlib.contextmanager
    def store_operation(self, store: str, operation: str) -> Iterator[None]:
        """Time one store driver call; count it as an error if it raises."""
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self.store_errors.labels(store, operation).inc()
            raise
        finally:
            self.store_latency.labels(store, operation).observe(time.perf_counter() - started)


_metrics: Metrics | None = None
_creating = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics (created on first use, after :func:`prepare_multiprocess` if any)."""
    global _metrics
    if _metrics is None:
        with _creating:
            if _metrics is None:
                _metrics = Metrics()
    return _metrics


def render(extra: Collector | None = None) -> bytes:
    """The text exposition of every worker's metrics, plus ``extra`` (computed by this worker)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry = metrics().registry
    text = prometheus_client.generate_latest(registry)
    if extra is not None:
        single = CollectorRegistry()
        single.register(extra)
        text += prometheus_client.generate_latest(single)
    return text


def watch_pool(engine: Any) -> None:
    """Count the connections ``engine``'s pool hands out and keeps (SQLAlchemy pool events)."""
    from sqlalchemy import event

    m = metrics()
    event.listen(engine, "connect", lambda *_: m.db_connects.inc())
    event.listen(engine, "checkout", lambda *_: m.db_in_use.inc())
    event.listen(engine, "checkin", lambda *_: m.db_in_use.dec())
