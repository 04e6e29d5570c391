"""The one way bytes come into a store: counted, limited, hashed, format-checked, then committed.

Uploads, staging, imports and copies between stores all write through
:meth:`IngestPipeline.ingest`: the data streams through
:class:`~glimpse.services.inbound.Inbound` (size cap, declared size, quota,
MD5 and the configured multihash on threads of their own) into a pending
object of the store (:meth:`Store.begin`); once every byte is written the
:class:`FormatGate` looks at the complete data in a local file, and only then
is the object committed. Any failure aborts the pending object, so the store
keeps nothing. Drivers never hash or inspect.

The local file is the driver's own (:meth:`PendingObject.local_path`), or, for
drivers that have none, a spool file the pipeline tees the bytes into while
writing, under the node's data directory and removed afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from glimpse.domain import formats
from glimpse.domain.images import Image
from glimpse.errors import ImageDataCorrupt, StoreFull, StoreObjectMissing, StoreUnavailable
from glimpse.services.inbound import BodyReader, Inbound
from glimpse.stores.base import (
    PendingObject,
    Store,
    StoredObject,
    StoreError,
    StoreFullError,
    StoreObjectNotFound,
)


class FormatGate:
    """The format check before commit: the single seam every inspector plugs into.

    :meth:`verify` sees the complete data of an image in a local file. Today it
    reads the head and tail for :func:`glimpse.domain.formats.detect`; a
    whole-structure inspector (and a second opinion such as ``qemu-img``) can
    take its place without the pipeline changing.
    """

    def __init__(self, *, require_match: bool = True) -> None:
        self._require_match = require_match

    def verify(self, image: Image, path: str, size: int) -> int | None:
        """The virtual size to record for ``image`` whose ``size`` bytes are in ``path``.

        Raises :class:`~glimpse.errors.ImageFormatMismatch` when the data does not
        match the image's ``disk_format`` or is unsafe (only when a match is
        required; otherwise the virtual size is recorded only if the formats agree).
        """
        with open(path, "rb") as data:
            head = data.read(formats.HEAD_SIZE)
            data.seek(max(0, size - formats.TAIL_SIZE))
            tail = data.read(formats.TAIL_SIZE)
        found = formats.detect(head, tail, size)
        if not self._require_match:
            return found.virtual_size if found.format == image.disk_format else None
        return formats.check(image.disk_format, image.container_format, found)


@dataclass(frozen=True)
class Ingested:
    """What an ingest stored: the store's object, and what the data turned out to be."""

    stored: StoredObject
    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str
    #: from the format gate; ``None`` when the data was not inspected or has none
    virtual_size: int | None


@dataclass(frozen=True)
class Expected:
    """Digests the data must have (a copy of data checked when it first came in)."""

    checksum: str | None
    os_hash_value: str | None


class IngestPipeline:
    """Writes data into stores; see the module docstring for the order of the checks."""

    def __init__(self, gate: FormatGate, *, hash_algorithm: str, size_cap: int, spool_dir: Path,
                 block_size: int) -> None:
        self.gate = gate
        self.hash_algorithm = hash_algorithm
        self._size_cap = size_cap
        self._spool_dir = spool_dir
        self._block_size = block_size

    def purge_spool(self, *, older_than: float) -> int:
        """Remove spool files left by writes that stopped more than ``older_than`` seconds ago (a crash)."""
        cutoff = time.time() - older_than
        removed = 0
        for entry in self._spool_dir.glob("*") if self._spool_dir.is_dir() else ():
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def ingest(self, store_id: str, store: Store, key: str, data: Iterable[bytes] | BodyReader, *,
               declared: int | None = None, quota_left: int | None = None,
               quota_name: str = "image_size_total", inspect: Image | None = None,
               expect: Expected | None = None, heartbeat: Callable[[], None] = lambda: None) -> Ingested:
        """Write ``data`` under ``key`` in ``store``; committed only if every check passed.

        ``declared`` is the size the caller announced, ``quota_left`` the bytes
        the owner may still store (``quota_name`` names that quota in the
        error). ``inspect`` is the image whose ``disk_format`` the data must
        match (``None``: staged data, or a copy, not inspected); ``expect`` are
        digests the data must have. On any failure the pending object is
        aborted and the error propagates; store errors become
        :class:`~glimpse.errors.StoreFull` or :class:`~glimpse.errors.StoreUnavailable`
        naming ``store_id``. Raises also :class:`ImageTooLarge`, :class:`SizeMismatch`,
        :class:`QuotaExceeded`, :class:`ImageFormatMismatch`, :class:`ImageDataCorrupt`.
        """
        inbound = Inbound(data, self.hash_algorithm, self._size_cap, declared, quota_left, heartbeat=heartbeat,
                          block_size=self._block_size, quota_name=quota_name)
        try:
            pending = store.begin(key, size=declared)
        except StoreError as exc:
            raise _store_failure(store_id, exc) from exc
        spool: _Spool | None = None
        try:
            local = pending.local_path() if inspect is not None else None
            if inspect is not None and local is None:
                spool = _Spool(self._spool_dir, key)
                local = spool.path
            _write(pending, inbound, spool)
            inbound.verify_size()
            virtual_size = self.gate.verify(inspect, local, inbound.received) if inspect and local else None
            checksum, os_hash = inbound.md5.hexdigest(), inbound.hash.hexdigest()
            if expect is not None:
                _check_digests(key, expect, checksum, os_hash)
            stored = pending.commit()
        except BaseException as exc:
            pending.abort()
            if isinstance(exc, StoreError):
                raise _store_failure(store_id, exc) from exc
            raise
        finally:
            if spool is not None:
                spool.remove()
        return Ingested(stored=stored, size=inbound.received, checksum=checksum, os_hash_algo=self.hash_algorithm,
                        os_hash_value=os_hash, virtual_size=virtual_size)


    def inspect_stored(self, store_id: str, store: Store, key: str, image: Image, *,
                       quota_left: int | None = None, heartbeat: Callable[[], None] = lambda: None) -> Ingested:
        """Read data already in ``store`` under ``key`` once, as if it came in: limits, digests, format gate.

        For data added by its location: nothing is written to the store; the
        bytes are teed into a spool file for the format gate. Raises
        :class:`~glimpse.errors.StoreObjectMissing` if there is no such object,
        and the errors of :meth:`ingest`.
        """
        try:
            chunks = store.open(key)
        except StoreObjectNotFound:
            raise StoreObjectMissing(f"Store '{store_id}' has no object {key!r}.") from None
        except StoreError as exc:
            raise _store_failure(store_id, exc) from exc
        spool = None
        try:
            inbound = Inbound(chunks, self.hash_algorithm, self._size_cap, None, quota_left, heartbeat=heartbeat,
                              block_size=self._block_size)
            spool = _Spool(self._spool_dir, key)
            for chunk in inbound:
                spool.write(chunk)
            virtual_size = self.gate.verify(image, spool.path, inbound.received)
        except StoreError as exc:
            raise _store_failure(store_id, exc) from exc
        finally:
            getattr(chunks, "close", lambda: None)()
            if spool is not None:
                spool.remove()
        return Ingested(stored=StoredObject(key=key, url=store.url_for(key), size=inbound.received),
                        size=inbound.received, checksum=inbound.md5.hexdigest(), os_hash_algo=self.hash_algorithm,
                        os_hash_value=inbound.hash.hexdigest(), virtual_size=virtual_size)


def _write(pending: PendingObject, inbound: Inbound, spool: _Spool | None) -> None:
    if spool is None:
        for chunk in inbound:
            pending.write(chunk)
        return
    for chunk in inbound:
        pending.write(chunk)
        spool.write(chunk)


def _check_digests(key: str, expect: Expected, checksum: str, os_hash: str) -> None:
    if expect.checksum and expect.checksum != checksum or expect.os_hash_value and expect.os_hash_value != os_hash:
        raise ImageDataCorrupt(f"The data of {key} read back does not match its recorded checksum; "
                               "it was not copied.")


def _store_failure(store_id: str, exc: StoreError) -> StoreFull | StoreUnavailable:
    if isinstance(exc, StoreFullError):
        return StoreFull(f"Store '{store_id}' has no room for this image: {exc}")
    return StoreUnavailable(f"Store '{store_id}' failed: {exc}")


def _spool_failure(exc: OSError) -> StoreUnavailable:
    return StoreUnavailable(f"The local spool used to check the image's format failed: {exc.strerror}.")


class _Spool:
    """A private local file the bytes are teed into, for stores with no local file of their own."""

    def __init__(self, directory: Path, key: str) -> None:
        self.path = str(directory / f"{key}-{os.getpid()}-{time.monotonic_ns()}")
        self._fd: int | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _spool_failure(exc) from exc

    def write(self, chunk: bytes | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            raise _spool_failure(exc) from exc

    def remove(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
