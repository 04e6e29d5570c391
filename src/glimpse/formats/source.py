"""Random access to the bytes of an uploaded image: bounded reads by offset, never the whole file.

Every parser in this package reads through :class:`ImageFile`, which refuses
reads outside the file and counts what was read, so a hostile header cannot
make inspection read gigabytes or wander past the end.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from glimpse.errors import ImageUnsafe

#: Most metadata bytes one inspection may read (tables of a 16 TiB qcow2 fit well inside).
READ_BUDGET = 64 * 1024 * 1024


class ImageFile:
    """An open image file read with ``pread``; ``size`` is its length in bytes."""

    def __init__(self, fd: int, size: int, *, budget: int = READ_BUDGET, base: int = 0) -> None:
        self.fd = fd
        self.size = size
        self._budget = budget
        #: where this image starts in the file (a member of a tar archive starts inside it)
        self.base = base

    def member(self, offset: int, size: int) -> ImageFile:
        """The ``size`` bytes at ``offset`` seen as an image of their own (same descriptor, the budget left)."""
        if offset < 0 or offset + size > self.size:
            raise ImageUnsafe(f"archive: a member (bytes {offset}-{offset + size}) lies outside the "
                              f"{self.size}-byte file")
        return ImageFile(self.fd, size, budget=self._budget, base=self.base + offset)

    @classmethod
    def open(cls, path: str) -> ImageFile:
        fd = os.open(path, os.O_RDONLY)
        return cls(fd, os.fstat(fd).st_size)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> ImageFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def read(self, offset: int, length: int, *, what: str, fmt: str) -> bytes:
        """Exactly ``length`` bytes at ``offset``; :class:`ImageUnsafe` naming ``what`` if they are not in the file."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ImageUnsafe(f"{fmt}: the {what} (bytes {offset}-{offset + length}) lies outside the "
                              f"{self.size}-byte file")
        self._budget -= length
        if self._budget < 0:
            raise ImageUnsafe(f"{fmt}: the image metadata is larger than inspection allows "
                              f"({READ_BUDGET // (1024 * 1024)} MiB)")
        chunks = []
        done = 0
        while done < length:
            chunk = os.pread(self.fd, length - done, self.base + offset + done)
            if not chunk:
                raise ImageUnsafe(f"{fmt}: the file ended while reading the {what}")
            chunks.append(chunk)
            done += len(chunk)
        return b"".join(chunks)

    def peek(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer near the end; empty outside the file); for signatures."""
        if offset < 0 or offset >= self.size:
            return b""
        return os.pread(self.fd, min(length, self.size - offset), self.base + offset)

    def unpack(self, layout: str, offset: int, *, what: str, fmt: str) -> tuple[Any, ...]:
        """``struct.unpack`` of the bytes at ``offset`` in ``layout``."""
        return struct.unpack(layout, self.read(offset, struct.calcsize(layout), what=what, fmt=fmt))
