"""Importing staged data without writing it twice: the staged object becomes the image's object.

Staging (``PUT …/stage``) already counted, limited and hashed the bytes; the
digests are recorded with the staging record. When the import changes nothing
(no import plugin configured) and the staging area and the target store are on
one backend, the staged object is *adopted* (:func:`glimpse.stores.base.adopt`):
renamed on a filesystem or in an RBD pool, copied server-side on S3. The
format gate still looks at the data (in place when the store has a local file,
else by reading it once) before the image becomes active, and the size must be
the one staged. Anywhere else the staged bytes are streamed through the ingest
pipeline as before, checked against the staged digests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glimpse.domain.images import Image
from glimpse.errors import ImageDataCorrupt, ImageGone, StoreUnavailable
from glimpse.services.ingest import Expected, Ingested, IngestPipeline
from glimpse.stores.base import Store, StoreError, StoreObjectNotFound, adopt


@dataclass(frozen=True)
class Staged:
    """Data staged for an image: where it is, and what staging measured."""

    store: Store
    key: str
    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str

    @staticmethod
    def record(size: int, checksum: str, os_hash_algo: str, os_hash_value: str) -> dict[str, Any]:
        """What the staging record keeps (its ``meta``)."""
        return {"size": size, "checksum": checksum, "os_hash_algo": os_hash_algo, "os_hash_value": os_hash_value}

    @classmethod
    def from_record(cls, store: Store, key: str, meta: dict[str, Any]) -> Staged | None:
        """The staged data a staging record describes; ``None`` for a record from before digests were kept."""
        fields = (meta.get("size"), meta.get("checksum"), meta.get("os_hash_algo"), meta.get("os_hash_value"))
        if not isinstance(fields[0], int) or not all(isinstance(f, str) and f for f in fields[1:]):
            return None
        return cls(store, key, fields[0], str(fields[1]), str(fields[2]), str(fields[3]))


def import_staged(ingest: IngestPipeline, store_id: str, store: Store, key: str, image: Image, staged: Staged, *,
                  quota_left: int | None, heartbeat: Callable[[], None]) -> Ingested:
    """Put ``staged`` under ``key`` in ``store`` as the data of ``image``: adopted when possible, else copied.

    Raises what :meth:`IngestPipeline.ingest` raises (format, size, digests,
    store errors); what was adopted before a failure is ``key`` in ``store``,
    for the caller to remove like any write.
    """
    try:
        adopted = adopt(store, staged.store, staged.key, key) if staged.os_hash_algo == ingest.hash_algorithm \
            else None
        chunks = staged.store.open(staged.key) if adopted is None else None
    except StoreObjectNotFound:
        raise ImageGone(f"The staged data of image {image.id} is gone.") from None
    except StoreError as exc:
        raise StoreUnavailable(f"Moving the staged data of image {image.id} into store '{store_id}' failed: "
                               f"{exc}") from exc
    if chunks is not None:
        try:
            return ingest.ingest(store_id, store, key, chunks, declared=staged.size, quota_left=quota_left,
                                 inspect=image, expect=Expected(staged.checksum, staged.os_hash_value),
                                 heartbeat=heartbeat)
        finally:
            getattr(chunks, "close", lambda: None)()
    assert adopted is not None
    if adopted.size != staged.size:
        raise ImageDataCorrupt(f"The staged data of image {image.id} has {adopted.size} bytes, not the "
                               f"{staged.size} staged; nothing was imported.")
    local_file = getattr(store, "local_file", None)
    if local_file is None:  # the format gate needs the data in a local file: read it once
        inspected = ingest.inspect_stored(store_id, store, key, image, quota_left=quota_left, heartbeat=heartbeat)
        if (inspected.checksum, inspected.os_hash_value) != (staged.checksum, staged.os_hash_value):
            raise ImageDataCorrupt(f"The staged data of image {image.id} changed after it was staged; "
                                   "nothing was imported.")
        return Ingested(stored=adopted, size=inspected.size, checksum=inspected.checksum,
                        os_hash_algo=inspected.os_hash_algo, os_hash_value=inspected.os_hash_value,
                        virtual_size=inspected.virtual_size)
    virtual_size = ingest.gate.verify(image, str(local_file(key)), staged.size)
    return Ingested(stored=adopted, size=staged.size, checksum=staged.checksum, os_hash_algo=staged.os_hash_algo,
                    os_hash_value=staged.os_hash_value, virtual_size=virtual_size)
