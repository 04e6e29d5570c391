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
class Store(Protocol):
    """One backend holding image data under string keys."""

    def url_for(self, key: str) -> str:
        """The location URL recorded for ``key`` (``file:///…``, ``s3://…``)."""
        ...

    def put(self, key: str, chunks: Iterable[bytes | memoryview], *, size: int | None = None) -> StoredObject:
        """Write all of ``chunks`` under ``key``, replacing nothing half-way.

        The object becomes visible only once every byte is durably written; if
        iterating ``chunks`` raises, or writing fails, nothing is left behind and
        the exception propagates (store failures as :class:`StoreError`).
        A chunk may be a view of a buffer that is reused for a later chunk: it is
        valid until the next one is asked for, so a driver that keeps data
        longer copies it. ``size`` is a hint for drivers that need the length in advance.
        """
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
