"""The configured stores of a node, and removal of data that is no longer wanted."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from glimpse.observability.metrics import metrics as store_metrics
from glimpse.db.images import ImageRepository, utcnow
from glimpse.errors import StoreUnavailable, UnknownStore
from glimpse.stores.base import Store, StoreError

log = logging.getLogger(__name__)


@dataclass
class StoreSet:
    """Store drivers by id, and which one takes new data."""

    stores: dict[str, Store]
    default: str
    descriptions: dict[str, str] = field(default_factory=dict)
    internal: set[str] = field(default_factory=set)

    def add_internal(self, store_id: str, store: Store) -> None:
        """Register a store the service uses for itself (staging), not offered for image data."""
        self.stores[store_id] = store
        self.internal.add(store_id)

    @property
    def offered(self) -> list[str]:
        """Ids of the stores image data may be kept in."""
        return [store_id for store_id in self.stores if store_id not in self.internal]

    @property
    def multiple(self) -> bool:
        """Does this site keep image data in more than one store?"""
        return len(self.offered) > 1

    def offered_store(self, store_id: str | None) -> str:
        """``store_id`` if image data may be kept there, the default store for ``None``; else :class:`UnknownStore`."""
        if store_id is None:
            return self.default
        if store_id not in self.offered:
            raise UnknownStore(f"Store '{store_id}' is not known here; this site has {', '.join(self.offered)}.")
        return store_id

    def get(self, store_id: str) -> Store:
        try:
            return self.stores[store_id]
        except KeyError:
            raise StoreUnavailable(f"Store '{store_id}' is not configured on this node.") from None

    def purge(self, images: ImageRepository, image_id: str | None = None, *,
              stale_before: dt.datetime | None = None) -> int:
        """Delete data of locations marked for deletion; return how many were removed.

        Failures are logged and left marked, so a later ``glimpse-manage cleanup``
        retries them; nothing here raises for a store error.
        """
        removed = 0
        for pending in images.pending_deletions(image_id=image_id, stale_before=stale_before):
            try:
                with store_metrics().store_operation(pending.store, "delete"):
                    self.get(pending.store).delete(pending.key)
            except (StoreError, StoreUnavailable) as exc:
                log.warning("could not delete data of image %s from store %s: %s", pending.image_id, pending.store, exc)
                continue
            images.release_location(pending.location_id)
            removed += 1
        return removed

    def purge_stale(self, images: ImageRepository, *, older_than: dt.timedelta) -> int:
        """Also remove data of uploads abandoned (no progress) for ``older_than``."""
        return self.purge(images, stale_before=utcnow() - older_than)
