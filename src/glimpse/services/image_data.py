"""Image data use cases: upload (hash, limit, inspect, commit) and download.

Bytes stream through here and are never held whole: uploads wrap the caller's
chunk iterator in :class:`_Inbound`, which hashes, counts, enforces the size cap
and looks at the head and tail for format inspection while the store writes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.images import ImageRepository
from glimpse.domain import formats
from glimpse.domain.images import Image, ImageLocation, ImageStatus
from glimpse.errors import (
    Forbidden,
    ImageFormatsMissing,
    ImageGone,
    ImageNotFound,
    ImageStatusConflict,
    ImageTooLarge,
    RangeNotSatisfiable,
    SizeMismatch,
    StoreFull,
    StoreUnavailable,
)
from glimpse import policy
from glimpse.services.access import ImageAccess
from glimpse.services.hashing import ParallelDigests
from glimpse.services.stores import StoreSet
from glimpse.stores.base import StoreError, StoreFullError, StoreObjectNotFound

log = logging.getLogger(__name__)

#: The one chunk size of the data path, in bytes.
CHUNK_SIZE = 1024 * 1024
#: An upload that has not advanced for this long is considered abandoned.
HEARTBEAT_SECONDS = 60.0


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
class Download:
    """An open download: the image, which bytes, and their chunks (``None`` when there is no data).

    The receiver must :meth:`close` it (or exhaust ``chunks``).
    """

    image: Image
    offset: int = 0
    length: int = 0
    chunks: Iterator[bytes] | None = None
    partial: bool = False

    def close(self) -> None:
        if self.chunks is not None and hasattr(self.chunks, "close"):
            self.chunks.close()


class ImageDataService:
    def __init__(self, access: ImageAccess, stores: StoreSet, *, size_cap: int, hash_algorithm: str,
                 require_format_match: bool = True) -> None:
        self._access = access
        self._images: ImageRepository = access.images
        self._stores = stores
        self._size_cap = size_cap
        self._hash_algorithm = hash_algorithm
        self._require_format_match = require_format_match

    def upload(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], *, size: int | None = None) -> Image:
        """Store the image's data and make it active.

        ``size`` is the size the caller declared, if any. The image moves
        ``queued -> saving -> active``; on any failure the written data is
        removed and the image goes back to ``queued``. Raises
        :class:`ImageStatusConflict` (not queued, or another upload won),
        :class:`ImageFormatsMissing`, :class:`ImageTooLarge`, :class:`SizeMismatch`,
        :class:`ImageFormatMismatch`, :class:`ImageGone` (deleted meanwhile),
        :class:`StoreFull` and :class:`StoreUnavailable`.
        """
        image = self._access.find_modifiable(ctx, image_id, "upload data to")
        if size is not None and size > self._size_cap:
            raise ImageTooLarge(f"Image size {size} exceeds the maximum of {self._size_cap} bytes.")
        if size is not None and size < 0:
            raise SizeMismatch("The declared image size cannot be negative.")
        self._access.change(image.id, _start_saving)

        store_id = self._stores.default
        store = self._stores.get(store_id)
        key = image.id
        location_id = self._images.reserve_location(image.id, store_id, key, store.url_for(key))
        inbound = _Inbound(chunks, self._hash_algorithm, self._size_cap, size,
                           heartbeat=lambda: self._images.touch_location(location_id))
        try:
            stored = store.put(key, inbound, size=size)
            inbound.verify_size()
            virtual_size = self._inspect(image, inbound)
        except BaseException as exc:
            self._abandon(image.id, store_id, key, location_id)
            if isinstance(exc, StoreFullError):
                raise StoreFull(f"The image store has no room for this image: {exc}") from exc
            if isinstance(exc, StoreError):
                raise StoreUnavailable(f"The image store failed while writing: {exc}") from exc
            raise

        location = ImageLocation(store=store_id, key=key, url=stored.url, metadata={"store": store_id})

        def activated(current: Image) -> Image:
            if current.status is not ImageStatus.SAVING:
                raise ImageGone(f"Image {current.id} was deleted while its data was being uploaded.")
            return dataclasses.replace(
                current, status=ImageStatus.ACTIVE, size=inbound.received, virtual_size=virtual_size,
                checksum=inbound.md5.hexdigest(), os_hash_algo=self._hash_algorithm,
                os_hash_value=inbound.hash.hexdigest(), locations=(*current.locations, location))

        try:
            return self._access.change(image.id, activated)
        except BaseException as exc:
            self._abandon(image.id, store_id, key, location_id, restore=False)
            if isinstance(exc, ImageNotFound):
                raise ImageGone(f"Image {image.id} was deleted while its data was being uploaded.") from None
            raise

    def _inspect(self, image: Image, inbound: _Inbound) -> int | None:
        found = formats.detect(bytes(inbound.head), bytes(inbound.tail), inbound.received)
        if not self._require_format_match:
            return found.virtual_size if found.format == image.disk_format else None
        return formats.check(image.disk_format, image.container_format, found)

    def _abandon(self, image_id: str, store_id: str, key: str, location_id: int, *, restore: bool = True) -> None:
        """Remove what a failed upload wrote and put the image back to ``queued``."""
        try:
            self._stores.get(store_id).delete(key)
            self._images.release_location(location_id)
        except Exception:  # the location stays "pending"; cleanup removes it later
            log.exception("could not remove data of failed upload of image %s", image_id)
        if restore:
            try:
                self._access.change(image_id, back_to_queued)
            except Exception:
                log.exception("could not put image %s back to queued after a failed upload", image_id)

    def open_download(self, ctx: RequestContext, image_id: str, byte_range: ByteRange | None = None) -> Download:
        """Open the image's data for reading, optionally one byte range of it.

        Returns a :class:`Download` without chunks when the image has no data.
        Raises :class:`ImageNotFound`, :class:`Forbidden` (deactivated),
        :class:`RangeNotSatisfiable` and :class:`StoreUnavailable`.
        """
        image = self._access.find(ctx, image_id)
        if not policy.download_image(ctx, image):
            raise Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        if not image.locations or image.status not in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED):
            return Download(image)
        size = image.size or 0
        offset, length = byte_range.resolve(size) if byte_range else (0, size)
        location = image.locations[0]
        try:
            chunks = self._stores.get(location.store).open(location.key, offset=offset, length=length)
        except StoreObjectNotFound:
            raise StoreUnavailable(f"The data of image {image.id} is missing from its store.") from None
        except StoreError as exc:
            raise StoreUnavailable(f"The image store cannot be read: {exc}") from exc
        return Download(image, offset=offset, length=length, chunks=chunks, partial=byte_range is not None)


def _start_saving(image: Image) -> Image:
    if image.status is not ImageStatus.QUEUED:
        raise ImageStatusConflict(
            f"Image status transition from '{image.status}' to 'saving' is not allowed: "
            "data can only be uploaded to a queued image."
        )
    missing = [name for name in ("disk_format", "container_format") if getattr(image, name) is None]
    if missing:
        raise ImageFormatsMissing(f"Property(ies) {', '.join(missing)} must be set prior to saving data.")
    return dataclasses.replace(image, status=ImageStatus.SAVING)


def back_to_queued(image: Image) -> Image:
    """A ``saving`` image whose upload failed or was abandoned, ready for another try."""
    if image.status is not ImageStatus.SAVING:
        return image
    return dataclasses.replace(image, status=ImageStatus.QUEUED, size=None, virtual_size=None)


class _Inbound:
    """The upload stream as the store sees it: hashed, counted, capped and sampled.

    MD5 and the ``os_hash_algo`` digest run on threads of their own
    (:class:`ParallelDigests`) while the store writes; they are complete once
    the store has consumed the whole stream.
    """

    def __init__(self, chunks: Iterable[bytes], algorithm: str, cap: int, declared: int | None, *,
                 heartbeat: object) -> None:
        self._chunks = chunks
        self._algorithm = algorithm
        self._cap = cap
        self._declared = declared
        self._heartbeat = heartbeat
        self.md5: Any = None
        self.hash: Any = None
        self.received = 0
        self.head = bytearray()
        self.tail = b""

    def __iter__(self) -> Iterator[bytes]:
        digests = ParallelDigests("md5", self._algorithm)
        self.md5, self.hash = digests.hashes["md5"], digests.hashes[self._algorithm]
        try:
            yield from self._counted(digests)
            digests.finish()
        finally:
            digests.close()

    def _counted(self, digests: ParallelDigests) -> Iterator[bytes]:
        beat = time.monotonic()
        for chunk in self._chunks:
            if not chunk:
                continue
            if not isinstance(chunk, bytes):  # the hash threads need a block nobody will change
                chunk = bytes(chunk)
            self.received += len(chunk)
            if self.received > self._cap:
                raise ImageTooLarge(f"Image exceeds the maximum size of {self._cap} bytes.")
            if self._declared is not None and self.received > self._declared:
                raise SizeMismatch(
                    f"More data was sent than the declared size of {self._declared} bytes."
                )
            digests.update(chunk)
            if len(self.head) < formats.HEAD_SIZE:
                self.head += chunk[: formats.HEAD_SIZE - len(self.head)]
            self.tail = (self.tail + chunk)[-formats.TAIL_SIZE:] if len(chunk) < formats.TAIL_SIZE \
                else chunk[-formats.TAIL_SIZE:]
            now = time.monotonic()
            if now - beat > HEARTBEAT_SECONDS:
                self._heartbeat()  # type: ignore[operator]
                beat = now
            yield chunk

    def verify_size(self) -> None:
        if self._declared is not None and self.received != self._declared:
            raise SizeMismatch(
                f"Size mismatch: {self.received} bytes were received but {self._declared} were declared."
            )
