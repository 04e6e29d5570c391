"""Image data use cases: upload (through the ingest pipeline) and download.

Bytes stream through here and are never held whole: uploads and imports hand
the caller's chunks (or body reader) to :class:`~glimpse.services.ingest.IngestPipeline`,
which hashes, counts, enforces the size cap and quota and checks the format
before the store commits; copies to further stores go through it too.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from glimpse.context import RequestContext
from glimpse.db.images import ImageRepository
from glimpse.domain.images import Image, ImageLocation, ImageStatus, transition
from glimpse.errors import (
    Conflict,
    Forbidden,
    ImageFormatsMissing,
    ImageGone,
    ImageNotFound,
    ImageStatusConflict,
    ImageTooLarge,
    NotFound,
    RangeNotSatisfiable,
    SizeMismatch,
    StoreFull,
    StoreNotAnswering,
    StoreReadOnly,
    StoreUnavailable,
)
from glimpse.db.outbox import OutboxRepository
from glimpse.observability.metrics import metrics as store_metrics
from glimpse.services.access import ImageAccess
from glimpse.services.events import image_event
from glimpse.services.quotas import ImageLimits, ProjectQuotas
from glimpse.services.inbound import BodyReader
from glimpse.services.ingest import Expected, Ingested, IngestPipeline
from glimpse.services.staged_imports import Staged, import_staged
from glimpse.services.stores import StoreSet
from glimpse.stores.base import StoreError, StoreObjectNotFound

log = logging.getLogger(__name__)

#: The one chunk size of the data path, in bytes.
CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class ByteRange:
    """A single HTTP-style byte range: ``first-last`` (inclusive), ``first-`` or a suffix ``-n``."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def resolve(self, size: int) -> tuple[int, int]:
        """``(offset, length)`` within an object of ``size`` bytes, or :class:`RangeNotSatisfiable`."""
        if self.suffix is not None:
            if self.suffix <= 0 or size == 0:
                raise RangeNotSatisfiable(size)
            length = min(self.suffix, size)
            return size - length, length
        first = self.first or 0
        if first >= size:
            raise RangeNotSatisfiable(size)
        last = size - 1 if self.last is None else min(self.last, size - 1)
        if last < first:
            raise RangeNotSatisfiable(size)
        return first, last - first + 1


@dataclass
class OpenedData:
    """Bytes of a download served by an extension (``image_data_opening``) instead of the stores.

    ``chunks`` yields exactly the bytes asked for; an iterator that is also a
    :class:`glimpse.stores.base.FileRegion` goes out by ``sendfile``.
    ``headers`` are added to the response (the cache's ``X-Glimpse-Cache``).
    """

    chunks: Iterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Download:
    """An open download: the image, which bytes, and the store's stream (``None`` when there is no data).

    Iterate the download (or send ``chunks`` some other way, such as
    ``sendfile``, and set ``sent``), then :meth:`close` it: closing ends the
    store stream and reports how many bytes went out (``image.send``).
    """

    image: Image
    offset: int = 0
    length: int = 0
    chunks: Iterator[bytes] | None = None
    partial: bool = False
    #: called once, at close, with the number of bytes sent
    finished: Callable[[int], None] | None = None
    sent: int = 0
    #: response headers the source of the bytes adds (e.g. ``X-Glimpse-Cache``)
    headers: dict[str, str] = field(default_factory=dict)
    _closed: bool = field(default=False, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        assert self.chunks is not None
        for chunk in self.chunks:
            self.sent += len(chunk)
            yield chunk

    def close(self, *, report: bool = True) -> None:
        """End the download; ``report=False`` when no data was meant to be sent (``HEAD``, 304)."""
        if self._closed:
            return
        self._closed = True
        if self.chunks is not None and hasattr(self.chunks, "close"):
            self.chunks.close()
        if report and self.finished is not None and self.chunks is not None:
            self.finished(self.sent)


class ImageDataService:
    def __init__(self, access: ImageAccess, stores: StoreSet, quotas: ProjectQuotas, limits: ImageLimits,
                 outbox: OutboxRepository, ingest: IngestPipeline, *, size_cap: int) -> None:
        self._access = access
        self._outbox = outbox
        self._extensions = access.extensions
        self._hooks = access.extensions.hook
        self._images: ImageRepository = access.images
        self._stores = stores
        self._quotas = quotas
        self._limits = limits
        self._ingest = ingest
        self._size_cap = size_cap

    def upload(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes] | BodyReader, *,
               size: int | None = None, store: str | None = None) -> Image:
        """Store the image's data (in ``store``, else the default store) and make it active.

        The data comes as an iterator of chunks or as a :class:`BodyReader`
        (read into a few reused buffers). ``size`` is the size the caller
        declared, if any. The image moves
        ``queued -> saving -> active``; on any failure the written data is
        removed and the image goes back to ``queued``. Raises
        :class:`ImageStatusConflict` (not queued, or another upload won),
        :class:`ImageFormatsMissing`, :class:`ImageTooLarge`, :class:`SizeMismatch`,
        :class:`ImageFormatMismatch`, :class:`ImageGone` (deleted meanwhile),
        :class:`StoreFull`, :class:`StoreUnavailable` and :class:`QuotaExceeded`
        (the owner's storage or concurrent-upload quota), :class:`UnknownStore`,
        :class:`StoreReadOnly`.
        """
        store_id = self._stores.offered_store(store)
        self._stores.writable(store_id)
        image = self._access.find_for(ctx, image_id, "upload_image", "upload data to")
        self._check_declared_size(size)
        saving = self._access.change(
            image.id, _start_saving,
            guard=lambda before, _after: self._quotas.for_upload_start(before.owner, size),
            events=lambda before, after: [image_event("image.update", ctx, after),
                                          image_event("image.prepare", ctx, after, store=store_id)])
        return self._write(ctx, saving, chunks, size=size, store_ids=[store_id])

    def import_data(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], *, size: int | None,
                    store_ids: list[str], all_stores_must_succeed: bool = True,
                    finish: Callable[[Image, list[str]], Image] | None = None,
                    revert: Callable[[Image], Image] | None = None,
                    heartbeat: Callable[[], None] | None = None, staged: Staged | None = None) -> Image:
        """Store the data of an ``importing`` image in ``store_ids`` and make it active.

        With ``staged`` (staged data, unchanged by the import) ``chunks`` is
        not read: the staged object goes to the first store by
        :func:`~glimpse.services.staged_imports.import_staged`.

        For the import task runner: the caller has checked permissions and
        moved the image to ``importing``. The stream goes to the first store
        while it is hashed and inspected, then is copied to the others; a
        failed copy fails the import when ``all_stores_must_succeed``, and is
        otherwise left out. ``finish(image, failed_stores)`` adjusts the image
        that becomes active. On failure the data is removed, the image goes back
        to ``queued`` (``revert`` makes that change, in one step with what the
        caller records of the failure) and the error propagates.
        """
        self._check_declared_size(size)
        image = self._images.get(image_id)
        if image is None or image.status is not ImageStatus.IMPORTING:
            raise ImageGone(f"Image {image_id} is no longer being imported.")
        for store_id in store_ids:
            self._stores.get(store_id)
        self._outbox.record(self._extensions.outbox([image_event("image.prepare", ctx, image, store=store_ids[0])]))
        return self._write(ctx, image, chunks, size=size, store_ids=store_ids,
                           all_stores_must_succeed=all_stores_must_succeed, finish=finish, revert=revert,
                           heartbeat=heartbeat, staged=staged)

    def _check_declared_size(self, size: int | None) -> None:
        if size is not None and size > self._size_cap:
            raise ImageTooLarge(f"Image size {size} exceeds the maximum of {self._size_cap} bytes.")
        if size is not None and size < 0:
            raise SizeMismatch("The declared image size cannot be negative.")

    def _write(self, ctx: RequestContext, image: Image, chunks: Iterable[bytes] | BodyReader, *, size: int | None,
               store_ids: list[str], all_stores_must_succeed: bool = True,
               finish: Callable[[Image, list[str]], Image] | None = None,
               revert: Callable[[Image], Image] | None = None,
               heartbeat: Callable[[], None] | None = None, staged: Staged | None = None) -> Image:
        """Write the data of ``image`` (``saving`` or ``importing``) and activate it; undo everything on failure."""
        writing = image.status
        try:
            quota_left = self._quotas.remaining_bytes(image.owner)
        except BaseException as exc:
            self._restore(ctx, image.id, exc, revert)
            raise

        first = store_ids[0]
        store = self._stores.writable(first)
        key = image.id
        written = [(first, key, self._images.reserve_location(image.id, first, key, store.url_for(key)))]

        def beat() -> None:
            self._images.touch_location(written[0][2])
            if heartbeat is not None:
                heartbeat()

        try:
            if writing is ImageStatus.SAVING:
                self._hooks.image_upload_started(ctx=ctx, image=image)
            with store_metrics().store_operation(first, "put"):
                if staged is not None:
                    ingested = import_staged(self._ingest, first, store, key, image, staged, quota_left=quota_left,
                                             heartbeat=beat)
                else:
                    ingested = self._ingest.ingest(first, store, key, chunks, declared=size, quota_left=quota_left,
                                                   inspect=image, heartbeat=beat)
        except BaseException as exc:
            self._abandon(image.id, written, ctx=ctx, error=exc, revert=revert)
            raise

        locations = [ImageLocation(store=first, key=key, url=ingested.stored.url, metadata={"store": first})]
        failed: list[str] = []
        for store_id in store_ids[1:]:
            try:
                locations.append(self._copy(image.id, first, key, store_id, written, ingested))
            except BaseException as exc:
                if all_stores_must_succeed or not isinstance(exc, (StoreError, StoreUnavailable, StoreFull,
                                                                    StoreReadOnly)):
                    self._abandon(image.id, written, ctx=ctx, error=exc, revert=revert)
                    raise StoreUnavailable(f"Copying the image to store '{store_id}' failed: {exc}") from exc
                log.warning("import of image %s to store %s failed: %s", image.id, store_id, exc)
                failed.append(store_id)

        def activated(current: Image) -> Image:
            if current.status is not writing:
                raise ImageGone(f"Image {current.id} was deleted while its data was being written.")
            self._limits.check_locations(len(current.locations) + len(locations))
            active = dataclasses.replace(
                transition(current, ImageStatus.ACTIVE), size=ingested.size, virtual_size=ingested.virtual_size,
                checksum=ingested.checksum, os_hash_algo=ingested.os_hash_algo,
                os_hash_value=ingested.os_hash_value, locations=(*current.locations, *locations))
            return finish(active, failed) if finish is not None else active

        try:
            active = self._access.change(
                image.id, activated,
                guard=lambda before, _after: self._quotas.for_stored_data(before.owner, ingested.size),
                events=lambda before, after: [
                    *(image_event("image.upload", ctx, after, store=loc.store) for loc in locations),
                    image_event("image.activate", ctx, after), image_event("image.update", ctx, after)])
        except BaseException as exc:
            gone = isinstance(exc, (ImageNotFound, ImageGone))
            self._abandon(image.id, written, restore=not gone, ctx=ctx, error=exc, revert=revert)
            if isinstance(exc, ImageNotFound):
                raise ImageGone(f"Image {image.id} was deleted while its data was being written.") from None
            raise
        self._extensions.observe(self._hooks.image_activated, ctx=ctx, image=active)
        return self._access.present(ctx, active)

    def _copy(self, image_id: str, source_store: str, key: str, store_id: str,
              written: list[tuple[str, str, int]], source: Ingested) -> ImageLocation:
        """Copy stored data to another store through the pipeline, checked against the digests it came in with.

        The copy is recorded in ``written`` so that a failure can undo it.
        """
        target = self._stores.writable(store_id)
        written.append((store_id, key, self._images.reserve_location(image_id, store_id, key, target.url_for(key))))
        chunks = self._stores.get(source_store).open(key)
        try:
            with store_metrics().store_operation(store_id, "put"):
                copied = self._ingest.ingest(store_id, target, key, chunks, declared=source.size,
                                             expect=Expected(source.checksum, source.os_hash_value))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return ImageLocation(store=store_id, key=key, url=copied.stored.url, metadata={"store": store_id})

    def _abandon(self, image_id: str, written: list[tuple[str, str, int]], *, restore: bool = True,
                 ctx: RequestContext | None = None, error: BaseException | None = None,
                 revert: Callable[[Image], Image] | None = None) -> None:
        """Remove what a failed write stored (``(store, key, location id)`` each) and put the image back.

        Data that cannot be removed now (its store failed, or is the store that stopped answering, which
        would only keep the client waiting for it again) is left marked ``pending_delete``: the next purge
        (``glimpse-manage cleanup``, the scrubber) removes it unless the image has been written there again.
        """
        down = error.store_id if isinstance(error, StoreNotAnswering) else None
        for store_id, key, location_id in written:
            if store_id == down:
                log.warning("image %s: store %s is not answering; what the failed write left there is removed "
                            "by the next cleanup", image_id, store_id)
            elif self._removed(image_id, store_id, key, location_id):
                continue
            try:
                self._images.set_location_status(location_id, "pending_delete")
            except Exception:  # the database too: the record stays "pending", and cleanup takes it once stale
                log.exception("could not mark the data of image %s in store %s for removal", image_id, store_id)
        if restore:
            self._restore(ctx, image_id, error, revert)

    def _removed(self, image_id: str, store_id: str, key: str, location_id: int) -> bool:
        """Delete what a failed write left at ``key`` in ``store_id`` and forget its record; whether it could."""
        try:
            with store_metrics().store_operation(store_id, "delete"):
                self._stores.get(store_id).delete(key)
            self._images.release_location(location_id)
        except Exception:
            log.exception("could not remove data of image %s from store %s after a failure", image_id, store_id)
            return False
        return True

    def _restore(self, ctx: RequestContext | None, image_id: str, error: BaseException | None,
                 revert: Callable[[Image], Image] | None = None) -> None:
        """Back to ``queued`` (by ``revert``) after a failed write, with the ``image.upload`` error event."""
        message = f"Failed to upload image {image_id}: {error}" if error is not None else "upload failed"
        try:
            queued = self._access.change(image_id, revert or back_to_queued, events=lambda before, after: [
                image_event("image.upload", ctx, after, error=message), image_event("image.update", ctx, after)])
        except Exception:
            log.exception("could not put image %s back to queued after a failed write", image_id)
            return
        if error is not None:
            self._extensions.observe(self._hooks.image_upload_failed, ctx=ctx, image=queued, error=error)

    def open_download(self, ctx: RequestContext, image_id: str, byte_range: ByteRange | None = None, *,
                      prefer: Sequence[str] = ()) -> Download:
        """Open the image's data for reading, optionally one byte range of it.

        The copy in the first of the ``prefer`` stores that holds one is read,
        else the first copy; a copy that cannot be read is skipped for the next.
        Returns a :class:`Download` without chunks when the image has no data.
        Raises :class:`ImageNotFound`, :class:`Forbidden` (deactivated),
        :class:`RangeNotSatisfiable`, :class:`UnknownStore` and :class:`StoreUnavailable`.
        """
        for store_id in prefer:
            self._stores.offered_store(store_id)
        image = self._access.find_for(ctx, image_id, "download_image", "download")
        if image.status is ImageStatus.DEACTIVATED and not ctx.is_admin:
            raise Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        if not image.locations or image.status not in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED):
            return Download(image)
        size = image.size or 0
        offset, length = byte_range.resolve(size) if byte_range else (0, size)
        opened = self._hooks.image_data_opening(ctx=ctx, image=image, offset=offset, length=length,
                                                partial=byte_range is not None)
        if opened is not None:
            return Download(image, offset=offset, length=length, chunks=opened.chunks,
                            partial=byte_range is not None, headers=dict(opened.headers),
                            finished=lambda sent: self._downloaded(ctx, image, sent, length))
        rank = {store_id: i for i, store_id in enumerate(prefer)}
        candidates = sorted(image.locations, key=lambda loc: rank.get(loc.store, len(rank)))
        failures = []
        for location in candidates:
            try:
                with store_metrics().store_operation(location.store, "open"):
                    chunks = self._stores.get(location.store).open(location.key, offset=offset, length=length)
                break
            except StoreObjectNotFound:
                failures.append(f"missing from store '{location.store}'")
            except (StoreError, StoreUnavailable) as exc:
                failures.append(f"store '{location.store}' cannot be read: {exc}")
        else:
            raise StoreUnavailable(f"The data of image {image.id} cannot be read: {'; '.join(failures)}.")
        return Download(image, offset=offset, length=length, chunks=chunks, partial=byte_range is not None,
                        finished=lambda sent: self._downloaded(ctx, image, sent, length))

    def delete_from_store(self, ctx: RequestContext, store_id: str, image_id: str) -> None:
        """Remove the image's copy in one store; its other copies stay.

        Raises :class:`NotFound` (one store only, or no copy there),
        :class:`Conflict` (unknown store, image not active), :class:`Forbidden`
        (policy, or the last copy), :class:`StoreReadOnly`.
        """
        if not self._stores.multiple:
            raise NotFound("This site has a single store; delete the image instead.")
        if store_id not in self._stores.offered:
            raise Conflict(f"Store '{store_id}' is not configured on this node.")
        self._stores.writable(store_id)
        image = self._access.find_for(ctx, image_id, "get_image_location", "see the locations of")
        self._access.policy.enforce("delete_image_location", ctx, self._access.target(ctx, image),
                                    f"You are not permitted to delete locations of image {image.id}.")

        def without(current: Image) -> Image:
            if current.status is not ImageStatus.ACTIVE:
                raise Conflict(f"Image {current.id} is '{current.status}'; only an active image's copies can go.")
            kept = tuple(loc for loc in current.locations if loc.store != store_id)
            if len(kept) == len(current.locations):
                raise NotFound(f"Image {current.id} has no data in store '{store_id}'.")
            if not kept:
                raise Forbidden(f"Store '{store_id}' holds the only copy of image {current.id}; delete the image "
                                "instead.")
            return dataclasses.replace(current, locations=kept)

        self._access.change(image.id, without,
                            events=lambda before, after: [image_event("image.update", ctx, after)])
        self._stores.purge(self._images, image.id)

    def _downloaded(self, ctx: RequestContext, image: Image, sent: int, expected: int) -> None:
        """A download stream ended after ``sent`` bytes: record ``image.send`` and tell the extensions."""
        complete = sent == expected
        event = image_event("image.send", ctx, image, error=None if complete else "incomplete download",
                            bytes_sent=sent)
        try:
            self._outbox.record(self._extensions.outbox([event]))
        except Exception:  # the download itself succeeded; do not fail it now
            log.exception("could not record the download of image %s", image.id)
        self._extensions.observe(self._hooks.image_downloaded, ctx=ctx, image=image, bytes_sent=sent,
                                 complete=complete)


def _start_saving(image: Image) -> Image:
    if image.status is not ImageStatus.QUEUED:
        raise ImageStatusConflict(
            f"Image status transition from '{image.status}' to 'saving' is not allowed: "
            "data can only be uploaded to a queued image."
        )
    missing = [name for name in ("disk_format", "container_format") if getattr(image, name) is None]
    if missing:
        raise ImageFormatsMissing(f"Property(ies) {', '.join(missing)} must be set prior to saving data.")
    return transition(image, ImageStatus.SAVING)


#: Statuses an image is in while data is being written to it.
_WRITING = frozenset({ImageStatus.SAVING, ImageStatus.UPLOADING, ImageStatus.IMPORTING})


def back_to_queued(image: Image) -> Image:
    """An image whose upload, staging or import failed or was abandoned, ready for another try."""
    if image.status not in _WRITING:
        return image
    return dataclasses.replace(transition(image, ImageStatus.QUEUED), size=None, virtual_size=None)
