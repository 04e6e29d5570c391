"""Copying an active image's data into more stores (the ``copy-image`` import method).

The image stays ``active`` while it is copied: each copy goes through the
ingest pipeline from a store that already holds the data, checked against the
digests the data came in with, and is added to the image's locations only once
committed. Where the target store's driver can clone the source object on its
backend (RBD pools of one Ceph cluster) the copy is that copy-on-write clone
instead (:func:`~glimpse.stores.base.clone`): the same bytes, so the same
digests, with none of them read. A failed copy leaves nothing behind in its
target store and the image active in the stores that hold it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from glimpse.context import RequestContext
from glimpse.domain.images import Image, ImageLocation, ImageStatus
from glimpse.errors import Conflict, ImageDataCorrupt, ImageGone, ImageNotFound, StoreUnavailable
from glimpse.observability.metrics import metrics as store_metrics
from glimpse.services.access import ImageAccess
from glimpse.services.events import image_event
from glimpse.services.ingest import Expected, IngestPipeline
from glimpse.services.stores import StoreSet
from glimpse.stores.base import Store, StoredObject, StoreError, clone

log = logging.getLogger(__name__)


class ImageCopies:
    """Copies of active images' data into further stores."""

    def __init__(self, access: ImageAccess, stores: StoreSet, ingest: IngestPipeline) -> None:
        self._access = access
        self._images = access.images
        self._stores = stores
        self._ingest = ingest

    @property
    def possible(self) -> bool:
        """Whether this node has more than one store taking data (else there is nowhere to copy to)."""
        return len(self._stores.writable_ids) > 1

    def check_targets(self, image: Image, store_ids: list[str]) -> None:
        """:class:`Conflict` naming a target store that already holds the image, or when the image has no data."""
        if image.status is not ImageStatus.ACTIVE:
            raise Conflict(f"Image {image.id} is '{image.status}'; copy-image copies the data of an 'active' image.")
        held = [loc.store for loc in image.locations if loc.store in store_ids]
        if held:
            raise Conflict(f"Image {image.id} is already in store(s) {', '.join(held)}; "
                           "name only stores that do not hold it yet.")

    def missing_from(self, image: Image) -> list[str]:
        """The writable stores that do not hold the image yet (``all_stores`` for copy-image)."""
        held = {loc.store for loc in image.locations}
        return [store_id for store_id in self._stores.writable_ids if store_id not in held]

    def copy(self, ctx: RequestContext | None, image_id: str, store_id: str, *,
             heartbeat: Callable[[], None] = lambda: None) -> Image:
        """Copy the image's data into ``store_id`` and record the new location; the image as stored after.

        Raises :class:`ImageGone` (deleted or no longer active meanwhile),
        :class:`StoreUnavailable` (no readable copy, or the target failed),
        :class:`ImageDataCorrupt` (the copy's digests or size differ), :class:`StoreFull`.
        """
        image = self._images.get(image_id)
        if image is None or image.status is not ImageStatus.ACTIVE:
            raise ImageGone(f"Image {image_id} is no longer active; nothing was copied to store '{store_id}'.")
        sources = [loc for loc in image.locations if loc.store in self._stores.stores]
        if not sources:
            raise StoreUnavailable(f"No store of this node holds the data of image {image_id} to copy from.")
        target = self._stores.writable(store_id)
        key = image.id
        location_id = self._images.reserve_location(image.id, store_id, key, target.url_for(key))

        def beat() -> None:
            self._images.touch_location(location_id)
            heartbeat()

        try:
            with store_metrics().store_operation(store_id, "put"):
                stored = self._write(image, sources, store_id, target, key, beat)
        except BaseException:
            self._images.release_location(location_id)
            raise
        if stored.size != image.size:
            self._discard(store_id, key, location_id)
            raise ImageDataCorrupt(f"The copy of image {image_id} in store '{store_id}' has {stored.size} bytes, "
                                   f"not {image.size}; it was removed.")
        location = ImageLocation(store=store_id, key=key, url=stored.url, metadata={"store": store_id})

        def with_copy(current: Image) -> Image:
            if current.status is not ImageStatus.ACTIVE:
                raise ImageGone(f"Image {current.id} stopped being active while it was copied to '{store_id}'.")
            return dataclasses.replace(current, locations=(*current.locations, location))

        try:
            return self._access.change(image.id, with_copy, events=lambda before, after: [
                image_event("image.upload", ctx, after, store=store_id), image_event("image.update", ctx, after)])
        except BaseException as exc:
            self._discard(store_id, key, location_id)
            if isinstance(exc, ImageNotFound):
                raise ImageGone(f"Image {image_id} was deleted while it was copied to '{store_id}'.") from None
            raise

    def _write(self, image: Image, sources: list[ImageLocation], store_id: str, target: Store, key: str,
               heartbeat: Callable[[], None]) -> StoredObject:
        """Put the image's data under ``key`` in ``target``: a clone of the first of ``sources`` the drivers can
        clone, else the bytes of the first one streamed through the ingest pipeline and checked against the
        image's digests. Raises :class:`StoreUnavailable` for a store error, or what the pipeline raises."""
        for source in sources:
            try:
                cloned = clone(target, self._stores.get(source.store), source.key, key)
            except StoreError as exc:
                raise StoreUnavailable(f"Cloning image {image.id} from store '{source.store}' into '{store_id}' "
                                       f"failed: {exc}") from exc
            if cloned is not None:
                return cloned
        source = sources[0]
        reader = self._stores.get(source.store)
        try:
            chunks = reader.open(source.key)
            try:
                return self._ingest.ingest(store_id, target, key, chunks, declared=image.size,
                                           expect=Expected(image.checksum, image.os_hash_value),
                                           heartbeat=heartbeat).stored
            finally:
                getattr(chunks, "close", lambda: None)()
        except StoreError as exc:
            raise StoreUnavailable(f"Reading image {image.id} from store '{source.store}' failed: {exc}") from exc

    def _discard(self, store_id: str, key: str, location_id: int) -> None:
        try:
            self._stores.get(store_id).delete(key)
            self._images.release_location(location_id)
        except Exception:  # the location stays "pending"; cleanup removes it later
            log.exception("could not remove the copy at %s in store %s", key, store_id)
