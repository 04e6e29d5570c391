"""The one way bytes come into a store: counted, limited, hashed, format-checked, then committed.

Uploads, staging, imports and copies between stores all write through
:meth:`IngestPipeline.ingest`: the data streams through
:class:`~glimpse.services.inbound.Inbound` (size cap, declared size, quota,
MD5 and the configured multihash on threads of their own) into a pending
object of the store (:meth:`Store.begin`); once every byte is written the
:class:`~glimpse.services.image_checks.FormatGate` looks at the complete data in a local file, and only then
is the object committed. Any failure aborts the pending object, so the store
keeps nothing. Drivers never hash or inspect.

The local file is the driver's own (:meth:`PendingObject.local_path`), or, for
drivers that have none, a spool file the pipeline tees the bytes into while
writing, under the node's data directory and removed afterwards. The spool is
sparse where the gate allows it (:meth:`FormatGate.regions`: plain data, whose
inspection reads only its first and last bytes): only those regions are
written, at their places, in a file of the data's length; data with metadata
of its own (qcow2, vmdk, ...) is spooled whole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from glimpse.domain.images import Image
from glimpse.errors import ImageDataCorrupt, StoreFull, StoreNotAnswering, StoreObjectMissing, StoreUnavailable
from glimpse.services.image_checks import FormatGate
from glimpse.services.inbound import BodyReader, Inbound
from glimpse.stores.base import (
    PendingObject,
    Store,
    StoredObject,
    StoreError,
    StoreFullError,
    StoreObjectNotFound,
    StoreUnavailableError,
)


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
                spool = _Spool(self._spool_dir, key, self.gate.regions(inspect))
                local = spool.path
            _write(pending, inbound, spool)
            inbound.verify_size()
            if spool is not None:
                spool.complete(inbound.received)
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
            spool = _Spool(self._spool_dir, key, self.gate.regions(image))
            for chunk in inbound:
                spool.write(chunk)
            spool.complete(inbound.received)
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
    if isinstance(exc, StoreUnavailableError):
        return StoreNotAnswering(f"Store '{store_id}' failed: {exc}", store_id=store_id)
    return StoreUnavailable(f"Store '{store_id}' failed: {exc}")


def _spool_failure(exc: OSError) -> StoreUnavailable:
    return StoreUnavailable(f"The local spool used to check the image's format failed: {exc.strerror}.")


class _Spool:
    """A private local file the bytes are teed into, for stores with no local file of their own.

    With ``regions`` ``(head, tail)`` only the first ``head`` bytes are written
    as they come and the last ``tail`` kept in memory; :meth:`complete` puts
    them at the end of a sparse file of the data's full length.
    """

    def __init__(self, directory: Path, key: str, regions: tuple[int, int] | None = None) -> None:
        self.path = str(directory / f"{key}-{os.getpid()}-{time.monotonic_ns()}")
        self._fd: int | None = None
        self._head, self._tail = regions if regions else (-1, 0)
        self._last = bytearray()
        self._written = 0
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _spool_failure(exc) from exc

    def write(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk).cast("B")
        offset = self._written
        self._written += len(view)
        if self._head >= 0:
            if self._tail:
                self._last += view[-self._tail:]
                del self._last[:-self._tail]
            view = view[:max(0, self._head - offset)]
        self._pwrite(view, offset)

    def complete(self, size: int) -> None:
        """Give a sparse spool its last bytes and its full length (``size``, the bytes written)."""
        if self._head >= 0 and size > self._head:
            self._pwrite(memoryview(self._last), size - len(self._last))
            try:
                os.ftruncate(self._fd, size)  # type: ignore[arg-type]
            except OSError as exc:
                raise _spool_failure(exc) from exc

    def _pwrite(self, view: memoryview, offset: int) -> None:
        assert self._fd is not None
        try:
            while view:
                done = os.pwrite(self._fd, view, offset)
                view, offset = view[done:], offset + done
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
