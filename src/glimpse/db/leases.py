"""Leases on the locations a process is writing: renewed while it lives, expired soon after it dies.

An upload reserves its location (``status = 'pending'``) before writing. While
the writing process is alive, a thread of that process renews the lease of
every location it still writes (one ``UPDATE`` of ``updated_at`` every
``renew_every`` seconds, for all of them). When the process dies, renewals
stop; any node's sweep (:meth:`LocationLeases.claim_expired`) then finds the
location's lease expired and claims it with a compare-and-swap, so exactly
one node releases the image however many look at once.

Renewal is independent of progress: a live upload whose client is slow keeps
its lease (slow clients are the edge's business), a dead worker loses it
within ``lease`` seconds instead of the ten minutes after which
``glimpse-manage cleanup`` judges an upload abandoned.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import sqlalchemy as sa

from glimpse.db.engine import Database
from glimpse.db.tables import image_locations, images
from glimpse.clock import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpiredLease:
    """A location whose writer stopped renewing its lease, and the image it was writing."""

    location_id: int
    image_id: str
    store: str
    key: str


class LocationLeases:
    """This process's leases; the renewal thread starts with the first :meth:`hold`."""

    def __init__(self, db: Database, *, renew_every: float) -> None:
        self._db = db
        self._renew_every = renew_every
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def hold(self, location_id: int) -> None:
        """Renew ``location_id``'s lease for as long as it stays ``pending`` and this process lives."""
        with self._lock:
            self._held.add(location_id)
            if self._closed.is_set():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._renew_forever, name="glimpse-leases", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop renewing (the services are closing): leases of uploads still running will expire."""
        self._closed.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _renew_forever(self) -> None:
        while not self._closed.wait(self._renew_every):
            with self._lock:
                held = list(self._held)
            if not held:
                continue
            try:
                self._renew(held)
            except Exception:  # the database may be away for a moment; the next round tries again
                log.warning("could not renew the leases of %d upload(s)", len(held), exc_info=True)

    def _renew(self, held: list[int]) -> None:
        pending = image_locations.c.status == "pending"
        with self._db.write() as conn:
            conn.execute(image_locations.update().where(image_locations.c.id.in_(held), pending)
                         .values(updated_at=utcnow()))
            still = {row.id for row in conn.execute(
                sa.select(image_locations.c.id).where(image_locations.c.id.in_(held), pending))}
        with self._lock:
            self._held -= set(held) - still  # written, released or claimed: nothing left to renew

    def expired(self, *, lease: dt.timedelta) -> list[ExpiredLease]:
        """Locations of uploads (images ``saving``) whose lease ran out ``lease`` ago or more."""
        statement = (sa.select(image_locations.c.id, image_locations.c.image_id, image_locations.c.store,
                               image_locations.c.key)
                     .join(images, images.c.id == image_locations.c.image_id)
                     .where(image_locations.c.status == "pending", image_locations.c.updated_at < utcnow() - lease,
                            images.c.status == "saving"))
        with self._db.read() as conn:
            return [ExpiredLease(r.id, r.image_id, r.store, r.key) for r in conn.execute(statement)]

    def claim(self, location_id: int, *, lease: dt.timedelta) -> bool:
        """Take an expired location for this node (``pending`` -> ``pending_delete``), if no one did yet."""
        with self._db.write() as conn:
            result = conn.execute(image_locations.update().where(
                image_locations.c.id == location_id, image_locations.c.status == "pending",
                image_locations.c.updated_at < utcnow() - lease).values(status="pending_delete", updated_at=utcnow()))
            return result.rowcount == 1
