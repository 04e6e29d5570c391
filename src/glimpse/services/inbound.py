"""The upload stream as a store sees it: hashed, counted and capped on the way through.

An upload arrives either as an iterator of chunks, or as a :class:`BodyReader`
that fills buffers it is given (a socket read straight into memory). Readers
are read into a small ring of reused buffers: no allocation per block, and at
most :data:`RING_BLOCKS` blocks in memory per upload.
"""

from __future__ import annotations

import contextlib
import mmap
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from glimpse.errors import ImageTooLarge, QuotaExceeded, SizeMismatch
from glimpse.services.hashing import ParallelDigests

#: Buffers in the ring: one being filled while the hash threads still digest the others.
RING_BLOCKS = 4
#: An upload that has not advanced for this long is considered abandoned.
HEARTBEAT_SECONDS = 60.0


@runtime_checkable
class BodyReader(Protocol):
    """A request body that is read into the caller's buffers (blocking; call from a worker thread)."""

    def readinto(self, buffer: memoryview) -> int:
        """Read the next bytes of the body into ``buffer``; returns how many, 0 once the body is over.

        Readers fill the whole buffer while the body lasts (each block the
        store sees is then a full one), but a shorter read is no error.
        Raises if the body cannot be completed (the client went away).
        """
        ...


class BufferRing:
    """``count`` reusable buffers of ``size`` bytes in one anonymous mapping, handed out in turn.

    The mapping is returned to the operating system by :meth:`close`, so memory
    does not stay with the process after the upload.
    """

    def __init__(self, count: int, size: int) -> None:
        self.count = count
        self.size = size
        self._map = mmap.mmap(-1, count * size)
        self._view = memoryview(self._map)

    def block(self, index: int) -> memoryview:
        """The buffer used for block number ``index`` (it is reused every :attr:`count` blocks)."""
        start = (index % self.count) * self.size
        return self._view[start:start + self.size]

    def close(self) -> None:
        self._view.release()
        with contextlib.suppress(BufferError):  # a view still held somewhere: the collector unmaps it later
            self._map.close()


class Inbound:
    """The upload stream as the store sees it: hashed, counted and capped.

    MD5 and the ``os_hash_algo`` digest run on threads of their own
    (:class:`ParallelDigests`) while the store writes; they are complete once
    the store has consumed the whole stream. Blocks read from a
    :class:`BodyReader` are views of reused buffers: each is valid until the
    store asks for the next one.
    """

    def __init__(self, data: Iterable[bytes] | BodyReader, algorithm: str, cap: int, declared: int | None,
                 quota_left: int | None, *, heartbeat: Callable[[], None], block_size: int,
                 quota_name: str = "image_size_total") -> None:
        self._data = data
        self._block_size = block_size
        self._algorithm = algorithm
        self._cap = cap
        self._declared = declared
        self._quota_left = quota_left
        self._heartbeat = heartbeat
        self._quota_name = quota_name
        self.md5: Any = None
        self.hash: Any = None
        self.received = 0

    def __iter__(self) -> Iterator[bytes | memoryview]:
        digests = ParallelDigests("md5", self._algorithm)
        self.md5, self.hash = digests.hashes["md5"], digests.hashes[self._algorithm]
        ring: BufferRing | None = None
        blocks: Iterator[bytes | memoryview]
        if isinstance(self._data, BodyReader):
            ring = BufferRing(RING_BLOCKS, self._block_size)
            blocks = _read(self._data, ring, digests)
        else:
            blocks = _chunks(self._data)
        try:
            yield from self._counted(blocks, digests)
            digests.finish()
        finally:
            digests.close()
            if ring is not None:
                ring.close()

    def _counted(self, blocks: Iterator[bytes | memoryview], digests: ParallelDigests
                 ) -> Iterator[bytes | memoryview]:
        beat = time.monotonic()
        for chunk in blocks:
            self.received += len(chunk)
            if self.received > self._cap:
                raise ImageTooLarge(f"Image exceeds the maximum size of {self._cap} bytes.")
            if self._quota_left is not None and self.received > self._quota_left:
                raise QuotaExceeded(
                    f"Quota exceeded for {self._quota_name}: only {self._quota_left} more bytes may be kept "
                    "in this project. Delete images or ask for a higher quota."
                )
            if self._declared is not None and self.received > self._declared:
                raise SizeMismatch(
                    f"More data was sent than the declared size of {self._declared} bytes."
                )
            digests.update(chunk)
            now = time.monotonic()
            if now - beat > HEARTBEAT_SECONDS:
                self._heartbeat()
                beat = now
            yield chunk

    def verify_size(self) -> None:
        if self._declared is not None and self.received != self._declared:
            raise SizeMismatch(
                f"Size mismatch: {self.received} bytes were received but {self._declared} were declared."
            )


def _chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if not chunk:
            continue
        if not isinstance(chunk, bytes):  # the hash threads need a block nobody will change
            chunk = bytes(chunk)
        yield chunk


def _read(reader: BodyReader, ring: BufferRing, digests: ParallelDigests) -> Iterator[memoryview]:
    """Blocks read from ``reader`` into the ring, each buffer refilled once the hashes are done with it."""
    index = 0
    while True:
        if index >= ring.count:
            digests.wait_digested(index - ring.count + 1)
        buffer = ring.block(index)
        filled = reader.readinto(buffer)
        if not filled:
            return
        yield buffer if filled == len(buffer) else buffer[:filled]
        index += 1
