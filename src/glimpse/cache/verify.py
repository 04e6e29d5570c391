"""Checking a cache file's bytes against the image record: its size and its strongest recorded digest.

An image whose multihash (``os_hash_algo``/``os_hash_value``) is a strong hash
(SHA-2, SHA-3, BLAKE2) is checked by it alone: its md5 ``checksum`` adds
nothing a SHA-512 match does not already prove, and costs a streaming node
another pass over every byte it caches (1.3-1.9 CPU-s per GiB on the benchmark
VMs). An image with no multihash, or a weak one, is checked by md5 as well.
Clients do the same with what they download (glanceclient verifies
``os_hash_value`` when the image has one, else ``checksum``).
"""

from __future__ import annotations

import os

from glimpse.domain.images import Image
from glimpse.services.hashing import ParallelDigests

READ_CHUNK = 1024 * 1024
#: multihash algorithms that, recorded for an image, are enough to check its bytes by
STRONG = frozenset({"sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256",
                    "sha3_224", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"})


class Digests:
    """The digests of bytes as they go by, each on its own thread, to compare with an image record.

    The multihash alone when it is a strong one (:data:`STRONG`), else md5 and any multihash.

    :meth:`close` on every path (it is idempotent); :meth:`mismatch` closes too.
    """

    def __init__(self, image: Image) -> None:
        self._image = image
        self._multi = image.os_hash_algo if image.os_hash_algo and image.os_hash_value else None
        self._md5 = bool(image.checksum) and self._multi not in STRONG
        algorithms = dict.fromkeys([*(["md5"] if self._md5 else []), *([self._multi] if self._multi else [])])
        self._digests = ParallelDigests(*algorithms)
        self.size = 0

    def update(self, data: bytes) -> None:
        """Digest ``data`` (which must not change afterwards)."""
        self.size += len(data)
        self._digests.update(data)

    def mismatch(self) -> str | None:
        """``None`` when the bytes are the image's, else what differs."""
        image = self._image
        self._digests.finish()
        if self.size != image.size:
            return f"size {self.size} instead of {image.size}"
        if self._md5 and self._digests.hexdigest("md5") != image.checksum:
            return "md5 differs from the image's checksum"
        if self._multi and self._digests.hexdigest(self._multi) != image.os_hash_value:
            return f"{image.os_hash_algo} differs from the image's os_hash_value"
        return None

    def close(self) -> None:
        self._digests.close()


class PrefixDigests:
    """The digests of a file's final prefix, taken as a filler reports it (see ``CacheFiller.fill``).

    A filler reports ``progress(n)`` when bytes ``[0, n)`` of the file are
    final: they are read back and digested then, while the fill runs, so that
    the check when it ends reads only what was never reported. Bytes reported
    final are never rewritten (the filler's promise), so digesting them early
    checks the same bytes as reading the finished file would.
    """

    def __init__(self, fd: int, image: Image) -> None:
        self._fd = fd
        self._digests = Digests(image)

    def advance(self, final: int) -> None:
        """Digest the file up to ``final`` bytes (what is already digested is not read again)."""
        position = self._digests.size
        while position < final:
            data = os.pread(self._fd, min(READ_CHUNK, final - position), position)
            if not data:
                break
            self._digests.update(data)
            position += len(data)

    def mismatch(self) -> str | None:
        """Digest the rest of the file, then compare; ``None`` when the file is the image's."""
        self.advance(os.fstat(self._fd).st_size)
        return self._digests.mismatch()

    def close(self) -> None:
        self._digests.close()
