"""Checking a cache file's bytes against the image record: size, md5 (``checksum``) and the multihash."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from glimpse.domain.images import Image

READ_CHUNK = 1024 * 1024


class Digests:
    """The md5 and multihash of bytes as they go by, to compare with an image record."""

    def __init__(self, image: Image) -> None:
        self._image = image
        self._md5: Any = hashlib.md5(usedforsecurity=False) if image.checksum else None
        self._multi: Any = hashlib.new(image.os_hash_algo) if image.os_hash_algo and image.os_hash_value else None
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self._md5 is not None:
            self._md5.update(data)
        if self._multi is not None:
            self._multi.update(data)

    def mismatch(self) -> str | None:
        """``None`` when the bytes are the image's, else what differs."""
        image = self._image
        if self.size != image.size:
            return f"size {self.size} instead of {image.size}"
        if self._md5 is not None and self._md5.hexdigest() != image.checksum:
            return "md5 differs from the image's checksum"
        if self._multi is not None and self._multi.hexdigest() != image.os_hash_value:
            return f"{image.os_hash_algo} differs from the image's os_hash_value"
        return None


def file_mismatch(fd: int, image: Image) -> str | None:
    """Read the open file ``fd`` from its start and compare it with ``image``; ``None`` when it matches."""
    digests = Digests(image)
    position = 0
    while True:
        data = os.pread(fd, READ_CHUNK, position)
        if not data:
            break
        digests.update(data)
        position += len(data)
    return digests.mismatch()
