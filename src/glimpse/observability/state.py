"""Metrics read from the database at scrape time, cached so that scrapes stay cheap.

Counting images by status and the outbox's backlog are whole-table queries: a
worker answers them at most once per ``metrics_cache_seconds`` however often it
is scraped, and never on the request path.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from glimpse.db.statistics import OutboxBacklog, StatisticsRepository
from glimpse.domain.images import ImageStatus

log = logging.getLogger(__name__)


class DatabaseFigures(Collector):
    """Images by status, outbox backlog and relay lag, refreshed at most every ``max_age`` seconds."""

    def __init__(self, statistics: StatisticsRepository, *, max_age: float) -> None:
        self._statistics = statistics
        self._max_age = max_age
        self._lock = threading.Lock()
        self._taken = -float("inf")
        self._statuses: dict[str, int] = {}
        self._backlog = OutboxBacklog(0, None)

    def collect(self) -> Iterator[Metric]:
        self._refresh()
        images = GaugeMetricFamily("glimpse_images", "Images by status (cached for metrics_cache_seconds)",
                                   labels=["status"])
        for status in ImageStatus:
            images.add_metric([status.value], self._statuses.get(status.value, 0))
        yield images
        yield GaugeMetricFamily("glimpse_outbox_pending_messages", "Notifications written but not yet published",
                                value=self._backlog.pending)
        lag = 0.0
        if self._backlog.oldest is not None:
            lag = max(0.0, (dt.datetime.now(dt.timezone.utc) - self._backlog.oldest).total_seconds())
        yield GaugeMetricFamily("glimpse_outbox_relay_lag_seconds", "Age of the oldest unpublished notification "
                                "(0 when none waits)", value=lag)

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._taken < self._max_age:
                return
            try:
                self._statuses = self._statistics.images_by_status()
                self._backlog = self._statistics.outbox_backlog()
            except Exception:  # a scrape must not fail because the database is briefly away
                log.warning("could not read image and outbox figures for /metrics", exc_info=True)
                return
            self._taken = time.monotonic()
