"""Is this node ready to serve? The parts it needs, each checked, none of them described to strangers.

:class:`HealthChecks` checks the database (a trivial query), every store
(writable, and for stores on a local filesystem at least ``min_free_bytes``
free), and, when configured, the message broker (a TCP connection to it) and
the identity service (Keystone answers its base URL). Each part's result is
kept for :data:`TTL` seconds, so a load balancer polling every node often
costs one check per part per interval, not one per poll.

A :class:`PartHealth`'s ``detail`` is written for an operator and names no
host, port or driver message: the driver's text goes to the log instead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from glimpse.db.engine import Database
from glimpse.services.stores import StoreSet
from glimpse.stores.base import Store, StoreError

log = logging.getLogger(__name__)

#: Seconds one part's result is reused.
TTL = 1.0
#: Seconds a probe of the broker or the identity service may take.
PROBE_TIMEOUT = 2.0
MiB = 1024 * 1024


@dataclass(frozen=True)
class PartHealth:
    """One part of the node: ``ok``, and a short reason fit for any reader when it is not."""

    name: str
    ok: bool
    detail: str = "ok"


@runtime_checkable
class LocalStore(Protocol):
    """A store keeping its objects under a local directory (its free space can be measured)."""

    root: Path



class HealthChecks:
    """The readiness checks of one node (thread-safe; results cached for :data:`TTL` seconds)."""

    def __init__(self, database: Database, stores: StoreSet, *, min_free_bytes: int,
                 identity_url: str | None = None, broker_url: str | None = None) -> None:
        self._stores = stores
        self._identity_url = identity_url
        self._broker_url = broker_url
        self._database_handle = database
        self._min_free = min_free_bytes
        self._cache: dict[str, tuple[float, PartHealth]] = {}
        self._lock = threading.Lock()

    def run(self) -> list[PartHealth]:
        """Every part's health, checking those whose cached result is older than :data:`TTL`."""
        now = time.monotonic()
        results = []
        for name, check in self._parts().items():
            with self._lock:
                cached = self._cache.get(name)
            if cached is None or now - cached[0] > TTL:
                cached = (now, check())
                with self._lock:
                    self._cache[name] = cached
            results.append(cached[1])
        return results

    def _parts(self) -> dict[str, Callable[[], PartHealth]]:
        parts: dict[str, Callable[[], PartHealth]] = {"database": self._database}
        for store_id, store in self._stores.stores.items():  # internal stores are added after start-up
            parts[f"store:{store_id}"] = partial(self._store, store_id, store)
        broker, identity = self._broker_url, self._identity_url
        if broker:
            parts["broker"] = partial(_reachable, "broker", broker, default_port=5672)
        if identity:
            parts["identity"] = partial(_identity, identity)
        return parts

    def _database(self) -> PartHealth:
        try:
            self._database_handle.ping()
        except Exception as exc:  # any driver error means: not ready
            log.warning("health: database check failed: %s: %s", type(exc).__name__, exc)
            return PartHealth("database", False, "unreachable")
        return PartHealth("database", True)

    def _store(self, store_id: str, store: Store) -> PartHealth:
        name = f"store:{store_id}"
        try:
            self._stores.check(store_id)  # read-only stores: reachable is enough
        except StoreError as exc:
            log.warning("health: store %s check failed: %s", store_id, exc)
            return PartHealth(name, False, "not writable")
        if isinstance(store, LocalStore):
            try:
                stats = os.statvfs(store.root)
            except OSError:
                return PartHealth(name, False, "not readable")
            free = stats.f_bavail * stats.f_frsize
            if free < self._min_free:
                return PartHealth(name, False, f"{free // MiB} MiB free, below the {self._min_free // MiB} MiB "
                                               "required (health_min_free_bytes)")
        return PartHealth(name, True)


def _reachable(name: str, url: str, *, default_port: int) -> PartHealth:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or default_port),
                                      timeout=PROBE_TIMEOUT):
            pass
    except OSError as exc:
        log.warning("health: %s unreachable: %s", name, exc)
        return PartHealth(name, False, "unreachable")
    return PartHealth(name, True)


def _identity(url: str) -> PartHealth:
    try:
        response = httpx.get(url, timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as exc:
        log.warning("health: identity service unreachable: %s", exc)
        return PartHealth("identity", False, "unreachable")
    if response.status_code >= 500:
        log.warning("health: identity service answered %d", response.status_code)
        return PartHealth("identity", False, f"answers {response.status_code}")
    return PartHealth("identity", True)
