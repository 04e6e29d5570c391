"""One fill at a time per image and node, and readers that stream a fill while it is written.

A fill of image ``X`` owns ``incomplete/X.fill``, a 16-byte record (bytes
final so far, state) on which it holds an exclusive ``flock``: the worker
process that gets the lock fills, every other request for ``X`` on the node (in
any worker) follows the record and streams ``incomplete/X`` up to the bytes
final so far. A lock that is free on a record that exists belongs to a fill
that died; the next claimant takes it over from the start.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_RECORD = struct.Struct("<qq")
FILLING, DONE, FAILED = 0, 1, 2
READ_CHUNK = 1024 * 1024


class FillClaim:
    """The lock and progress record of the fill this process runs."""

    def __init__(self, record: Path, fd: int) -> None:
        self.record = record
        self._fd = fd
        self.progress = 0

    def report(self, progress: int, state: int = FILLING) -> None:
        self.progress = progress
        os.pwrite(self._fd, _RECORD.pack(progress, state), 0)

    def release(self) -> None:
        """Remove the record, then let go of the lock (in that order: nobody claims a finished record)."""
        with contextlib.suppress(FileNotFoundError):
            self.record.unlink()
        os.close(self._fd)


def claim(record: Path) -> FillClaim | None:
    """The fill's lock, or ``None`` when another fill of the same image runs (or just finished)."""
    fd = os.open(record, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    try:
        same = os.stat(record).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # the previous owner finished and removed it between our open and our lock
        os.close(fd)
        return None
    return FillClaim(record, fd)


def read_record(fd: int) -> tuple[int, int]:
    data = os.pread(fd, _RECORD.size, 0)
    if len(data) < _RECORD.size:
        return 0, FILLING
    progress, state = _RECORD.unpack(data)
    return int(progress), int(state)


def is_abandoned(record: Path) -> bool:
    """True when ``record`` exists and no live fill holds its lock."""
    try:
        fd = os.open(record, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


class FollowingChunks:
    """Bytes ``offset .. offset+length`` of an image, read from a fill's file as the fill makes them final.

    When the fill fails or makes no progress for ``stall_time`` seconds, the
    rest comes from ``fallback(offset, length)`` (the stores), so the client
    still gets the whole image. Iterate it for chunks of bytes, or take
    :meth:`next_part` for regions of the file that the edge hands to the kernel
    (``sendfile``), as for a cache hit (a :class:`~glimpse.stores.base.GrowingFileRegion`).
    """

    def __init__(self, record_fd: int, data_fd: int, offset: int, length: int, *, stall_time: float,
                 fallback: Callable[[int, int], Iterator[bytes]]) -> None:
        self._record = record_fd
        self._data = data_fd
        self._position = offset
        self._end = offset + length
        self._stall_time = stall_time
        self._fallback = fallback
        self._rest: Iterator[bytes] | None = None
        self._closed = False
        # what __next__ has still to read of the last region next_part gave it
        self._region_at = self._region_left = 0

    def first_bytes(self) -> bool:
        """Wait until the fill has bytes for this reader (or is done): True; False when it failed before
        that, so that the caller can answer as the stores would (a clear error) instead of starting a
        response it cannot finish. After ``stall_time`` without bytes, True: the stores take over then."""
        deadline, pause = time.monotonic() + self._stall_time, 0.0005
        while time.monotonic() < deadline:
            progress, state = read_record(self._record)
            if progress > self._position or state == DONE:
                return True
            if state == FAILED:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return True

    def next_part(self) -> tuple[int, int, int] | bytes | None:
        """The next bytes, waiting for the fill: ``(fd, offset, count)`` of the fill's file once final,
        ``bytes`` from the stores after the fill failed or stalled, ``None`` at the end. A region's
        file descriptor stays open until the next call."""
        if self._rest is not None:
            return next(self._rest, None)
        if self._position >= self._end or self._closed:
            self.close()
            return None
        last_progress, last_change, pause = -1, time.monotonic(), 0.0005
        while True:
            progress, state = read_record(self._record)
            if progress > self._position:
                part = (self._data, self._position, min(progress, self._end) - self._position)
                self._position += part[2]
                return part
            if progress != last_progress:
                last_progress, last_change = progress, time.monotonic()
            if state == FAILED or state == DONE or time.monotonic() - last_change > self._stall_time:
                # DONE with bytes missing cannot happen for a verified file; treat it like a failure
                self._close_files()
                self._rest = self._fallback(self._position, self._end - self._position)
                return next(self._rest, None)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if not self._region_left:
            part = self.next_part()
            if part is None:
                raise StopIteration
            if isinstance(part, bytes):
                return part
            _, self._region_at, self._region_left = part
        data = os.pread(self._data, min(READ_CHUNK, self._region_left), self._region_at)
        if not data:  # the fill's file is shorter than its record says: never complete a response with it
            raise OSError(f"the cache fill's file ended at {self._region_at} bytes")
        self._region_at += len(data)
        self._region_left -= len(data)
        return data

    def _close_files(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._record)
            os.close(self._data)

    def close(self) -> None:
        self._close_files()
        if self._rest is not None and hasattr(self._rest, "close"):
            self._rest.close()
