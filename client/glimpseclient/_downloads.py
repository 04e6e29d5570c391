"""Image downloads that resume after a dropped connection and verify every byte.

``ImageDownload`` is a context manager over ``GET /v2/images/{id}/file``.
It hashes the bytes as they pass: with ``os_hash_algo`` against the recorded
``os_hash_value`` (SHA-512 by default), else against the MD5 ``checksum``,
else against ``Content-MD5``; ``verify_checksum=True`` checks the MD5
``checksum`` as well (it costs a second hash over every byte). When the connection breaks it asks for the rest with
``Range: bytes=<received>-`` and carries on, so the hashes still cover the
whole image. At the end the size and hashes must match, else ``SizeMismatch``
or ``ChecksumMismatch``: a download never ends quietly with wrong bytes.
Memory use is one chunk buffer, whatever the image size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

from glimpseclient._exceptions import (
    ChecksumMismatch,
    ConfigurationError,
    ConnectionLost,
    DataError,
    NoImageData,
    SizeMismatch,
    Timeout,
)
from glimpseclient._hashing import ParallelHasher
from glimpseclient._models import Image
from glimpseclient._session import path
from glimpseclient._uploads import CHUNK_SIZE, Progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    import hashlib
    from typing import BinaryIO

    from glimpseclient._protocols import Response
    from glimpseclient._session import Session

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


class ImageDownload:
    """The bytes of one image; iterate it (or ``save`` it) inside a ``with`` block.

    ``resumes`` bounds how many times a broken connection is resumed;
    ``verify=False`` skips all checks; ``verify_checksum=True`` adds the MD5
    ``checksum`` to the ``os_hash_value`` check.
    """

    def __init__(self, session: Session, image: Image, *, chunk_size: int = CHUNK_SIZE,
                 progress: Progress | None = None, resumes: int = 5, verify: bool = True,
                 verify_checksum: bool = False) -> None:
        self.session = session
        self.image = image
        self.chunk_size = chunk_size
        self.progress = progress
        self.resumes = resumes
        self.verify = verify
        self.verify_checksum = verify_checksum
        #: Bytes received so far (after the iteration ends: the image size).
        self.received = 0
        #: How often the transfer was resumed after a break.
        self.resumed = 0
        self._response: Response | None = None
        self._hashes: dict[str, tuple[hashlib._Hash, str]] = {}
        self._path = path("v2", "images", image.id, "file")

    # -- public API -------------------------------------------------------------------------

    def __enter__(self) -> ImageDownload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        """Chunks of the image; the last step verifies size and checksums (raises ``DataError``)."""
        return self._pump()

    def save(self, destination: str | os.PathLike[str] | BinaryIO) -> int:
        """Write the image to a path or a binary file; returns the byte count.

        A path is written as ``<path>.part`` and renamed only once verified; on
        failure the partial file is removed.
        """
        if not isinstance(destination, (str, os.PathLike)):
            return self._write_to(destination.write)
        target = os.fspath(destination)
        partial = target + ".part"
        try:
            with open(partial, "wb") as out:
                count = self._write_to(out.write)
            os.replace(partial, target)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise
        return count

    def close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()

    # -- the transfer -------------------------------------------------------------------------

    def _write_to(self, write: Callable[[bytes], object]) -> int:
        for chunk in self._pump():
            write(chunk)
        return self.received

    def _pump(self) -> Iterator[bytes]:
        """The image's chunks, resuming after breaks, hashed on the side and verified at the end."""
        self._start_hashes()
        buffer = bytearray(self.chunk_size)
        view = memoryview(buffer)
        hasher: ParallelHasher | None = None
        try:
            self._response = self._open(0)
            hasher = ParallelHasher({name: h for name, (h, _) in self._hashes.items()})
            while True:
                try:
                    count = self._response.readinto(view)
                except (ConnectionLost, Timeout):
                    self.close()
                    if self.resumed >= self.resumes:
                        raise
                    self.resumed += 1
                    self._response = self._open(self.received)
                    continue
                if count == 0:
                    break
                chunk = bytes(view[:count])  # an immutable copy the hash threads can read while we go on
                hasher.update(chunk)
                self.received += count
                yield chunk
                if self.progress is not None:
                    self.progress(self.received, self.image.size)
            digests = hasher.hexdigests()
        finally:
            self.close()
            if hasher is not None:
                hasher.close()
        self._check(digests)

    def _open(self, offset: int) -> Response:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self.session.send("GET", self._path, headers=headers, accept="application/octet-stream")
        if response.status == 204:
            response.close()
            raise NoImageData(f"image {self.image.id} has no data (status {self.image.status})")
        if offset == 0:
            content_md5 = response.headers.get("content-md5")
            if self.verify and not self._hashes and content_md5:
                import hashlib

                # The image records no hashes; the header still lets us check the transfer.
                self._hashes["md5"] = (hashlib.md5(usedforsecurity=False), content_md5.lower())
            return response
        match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        if response.status != 206 or not match or int(match.group(1)) != offset:
            response.close()
            raise DataError(f"cannot resume image {self.image.id} at byte {offset}: the server answered "
                            f"{response.status} without the asked-for range")
        return response

    def _start_hashes(self) -> None:
        import hashlib  # loads OpenSSL: only downloads pay for it

        self._hashes = {}
        self.received = 0
        if not self.verify:
            return
        algorithm, expected = self.image.os_hash_algo, self.image.os_hash_value
        if algorithm and expected:
            try:
                self._hashes[algorithm] = (hashlib.new(algorithm), expected.lower())
            except ValueError:
                raise ConfigurationError(f"cannot verify image {self.image.id}: hash algorithm {algorithm!r} "
                                         "is not available in this Python") from None
            if not self.verify_checksum:
                return
        if self.image.checksum:
            self._hashes["md5"] = (hashlib.md5(usedforsecurity=False), self.image.checksum.lower())

    def _check(self, digests: dict[str, str]) -> None:
        if not self.verify:
            return
        if self.image.size is not None and self.received != self.image.size:
            raise SizeMismatch(self.image.size, self.received)
        for name, (_, expected) in self._hashes.items():
            actual = digests[name]
            if actual != expected:
                raise ChecksumMismatch(name, expected, actual)

