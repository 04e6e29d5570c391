"""The store driver interface, its result type and its errors.

A driver is constructed with its configuration section as keyword arguments
and registers nothing globally. Checksums, size limits and format checks are
not a driver's business: the service wraps the chunk iterator it passes in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class StoreError(Exception):
    """Base of the errors drivers raise; drivers translate their SDK's errors into these."""


class StoreObjectNotFound(StoreError):
    """No object under that key."""


class StoreFullError(StoreError):
    """The backend has no room for the object."""


class StoreUnavailableError(StoreError):
    """The backend cannot be reached or refuses service."""


class StoreConfigError(StoreError):
    """A store's configuration is wrong: one line naming the store's option and what is wrong with it.

    Raised by a driver's constructor; start-up turns it into a one-line message
    that names the store id too. Never includes secrets.
    """

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"option '{option}': {problem}")
        self.option = option
        self.problem = problem


@dataclass(frozen=True)
class StoredObject:
    """What a completed ``put`` wrote: the key, its URL and its size in bytes."""

    key: str
    url: str
    size: int


@runtime_checkable
class FileRegion(Protocol):
    """A stream from :meth:`Store.open` whose bytes are one region of a local file.

    Drivers backed by local files return such an iterator so that the edge can
    hand the region to the kernel (``sendfile``) instead of iterating it; the
    iterator still yields the same bytes for everyone else, and closing it
    closes the file.
    """

    #: where the region starts in the file, and how many bytes it has
    offset: int
    length: int

    def fileno(self) -> int:
        """The OS file descriptor of the open file."""
        ...

    def close(self) -> None:
        ...


@runtime_checkable
class GrowingFileRegion(Protocol):
    """A stream whose bytes become, in order, regions of a local file as it is written (a cache fill).

    The edge sends each region with ``sendfile``; bytes the stream gets
    elsewhere (the stores, when the file's writer gives up) come as ``bytes``.
    The stream still iterates as chunks for everyone else.
    """

    def next_part(self) -> tuple[int, int, int] | bytes | None:
        """``(fd, offset, count)`` of the file, or ``bytes``, or ``None`` at the end (blocks until there is one)."""
        ...

    def close(self) -> None:
        ...


@runtime_checkable
class PendingObject(Protocol):
    """An object being written: invisible to readers until :meth:`commit`.

    Made by :meth:`Store.begin`. The ingest pipeline writes every chunk, runs its
    checks (size, hashes, format) and only then commits; on any failure it calls
    :meth:`abort`, which must leave nothing behind in the backend (temporary
    files unlinked, multipart uploads aborted, RBD images removed, segments
    deleted). ``abort`` after ``commit`` or a second ``abort`` is a no-op, and
    never raises for a backend that is down (it logs instead).
    """

    key: str

    def write(self, chunk: bytes | memoryview) -> None:
        """Append ``chunk``. The chunk may be a view of a reused buffer: valid only during the call.

        Raises :class:`StoreError` (or a subclass) when the backend fails.
        """
        ...

    def local_path(self) -> str | None:
        """A local file holding exactly the bytes written so far, if the driver has one (else ``None``).

        The pipeline inspects that file before committing; drivers without one
        get a local spool from the pipeline instead.
        """
        ...

    def commit(self) -> StoredObject:
        """Make the object visible at its final location, durably; return what was stored."""
        ...

    def abort(self) -> None:
        """Discard everything written; leaves nothing behind."""
        ...


@runtime_checkable
class Store(Protocol):
    """One backend holding image data under string keys."""

    def url_for(self, key: str) -> str:
        """The location URL recorded for ``key`` (``file:///…``, ``s3://…``, ``rbd://…``), never with credentials."""
        ...

    def begin(self, key: str, *, size: int | None = None) -> PendingObject:
        """Open a pending object for ``key``; ``size`` is a hint for drivers that need the length in advance."""
        ...

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Iterate the bytes of ``key`` from ``offset``, at most ``length`` of them.

        Raises :class:`StoreObjectNotFound` at once if the key does not exist. The
        caller must close the returned iterator (it has ``close()``) when done.
        Drivers that read local files may return a :class:`FileRegion`.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...

    def stat(self, key: str) -> int:
        """Size in bytes of ``key``; raises :class:`StoreObjectNotFound`."""
        ...

    def check(self) -> None:
        """Raise :class:`StoreUnavailableError` if the store cannot take writes now."""
        ...


def put(store: Store, key: str, chunks: Iterable[bytes | memoryview], *, size: int | None = None) -> StoredObject:
    """Write all of ``chunks`` under ``key`` through a pending object: committed whole, or aborted.

    For copies between stores, where the bytes were checked when they first came in.
    """
    pending = store.begin(key, size=size)
    try:
        for chunk in chunks:
            pending.write(chunk)
        return pending.commit()
    except BaseException:
        pending.abort()
        raise


def adopt(target: Store, source: Store, source_key: str, key: str) -> StoredObject | None:
    """Make ``key`` in ``target`` hold the object ``source_key`` of ``source`` without its bytes passing through
    us, when both are on one backend: a rename (filesystem, RBD) or a server-side copy (S3). ``None`` when the
    drivers cannot (the caller copies the bytes instead). After a rename the source object is gone.

    Drivers offer it with an optional ``adopt(source, source_key, key)`` method; a store that is a view of
    another (``locate(key) -> (store, key)``, the prefixed staging area) is seen through.
    """
    return _call_optional(target, "adopt", source, source_key, key)


def clone(target: Store, source: Store, source_key: str, key: str) -> StoredObject | None:
    """Make ``key`` in ``target`` a copy-on-write clone of the committed object ``source_key`` of ``source``, when
    both are on one backend that shares data between objects (RBD pools of one Ceph cluster). ``None`` when the
    drivers cannot (the caller copies the bytes instead). The source object stays, with the same bytes.

    The clone reads exactly the bytes of its source, so its size and digests are the source's. Drivers offer
    it with an optional ``clone(source, source_key, key)`` method and keep deleting either object possible
    (the RBD driver flattens the clones of an image it deletes). Views of a store are seen through, as for
    :func:`adopt`. Raises :class:`StoreError` when the backend fails; nothing is left under ``key`` then.
    """
    return _call_optional(target, "clone", source, source_key, key)


def _call_optional(target: Store, method_name: str, source: Store, source_key: str,
                   key: str) -> StoredObject | None:
    """``target.<method_name>(source, source_key, key)`` with ``source`` seen through, or ``None`` without one."""
    locate = getattr(source, "locate", None)
    if locate is not None:
        source, source_key = locate(source_key)
    method = getattr(target, method_name, None)
    if method is None:
        return None
    result: StoredObject | None = method(source, source_key, key)
    return result
