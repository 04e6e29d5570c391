"""Upload sources: a path, a binary file, bytes or any iterable of byte chunks.

An ``UploadSource`` streams its bytes in chunks, reports progress, knows its
length when it can (files, bytes) and whether it can be sent again (a seekable
file goes back to where it started; a generator cannot), which decides whether
a redirect or a retry of an upload is possible.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator

from glimpseclient._exceptions import ConfigurationError

#: Bytes per read and per chunk sent: large enough that per-chunk costs vanish next to the copy.
CHUNK_SIZE = 1 << 20

#: ``progress(done, total)``: bytes sent or received so far, and the total when known (else ``None``).
Progress = Callable[[int, "int | None"], None]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    #: What an upload reads: a path, a binary file, bytes or an iterable of byte chunks.
    Source = str | os.PathLike[str] | BinaryIO | bytes | Iterable[bytes]


class UploadSource:
    """The bytes of one upload, readable once per ``chunks()`` call."""

    def __init__(self, source: Source, *, size: int | None = None, progress: Progress | None = None,
                 chunk_size: int = CHUNK_SIZE) -> None:
        self._owned: BinaryIO | None = None
        self._file: BinaryIO | None = None
        self._bytes: bytes | None = None
        self._iterable: Iterable[bytes] | None = None
        self._start = 0
        self._used = False
        self.progress = progress
        self.chunk_size = chunk_size
        #: The size to announce (``x-openstack-image-size``) and to show progress against.
        self.length = size
        if isinstance(source, (str, os.PathLike)):
            try:
                self._owned = self._file = open(source, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise ConfigurationError(f"cannot read {os.fspath(source)!r}: {exc.strerror}") from exc
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self._bytes = bytes(source)
        elif hasattr(source, "read"):
            self._file = source  # type: ignore[assignment]
        else:
            self._iterable = source
        #: The byte count measured here (bytes, regular files), sent as ``Content-Length``;
        #: ``None`` means the body goes out chunked, whatever ``size`` the caller declared.
        self.content_length: int | None = None
        if self._file is not None:
            self._start, self.content_length = _position_and_remaining(self._file)
        elif self._bytes is not None:
            self.content_length = len(self._bytes)
        if self.length is None:
            self.length = self.content_length

    def rewind(self) -> bool:
        """Get ready to send the bytes again; ``False`` when that is impossible."""
        if not self._used:
            return True
        if self._bytes is not None:
            return True
        if self._file is not None and _seekable(self._file):
            self._file.seek(self._start)
            return True
        return False

    def chunks(self) -> Iterator[bytes]:
        """The bytes, chunk by chunk, reporting progress after each."""
        self._used = True
        done = 0
        for chunk in self._raw_chunks():
            done += len(chunk)
            yield chunk
            if self.progress is not None:
                self.progress(done, self.length)

    def _raw_chunks(self) -> Iterator[bytes]:
        if self._bytes is not None:
            view = memoryview(self._bytes)
            for offset in range(0, len(view), self.chunk_size):
                yield view[offset:offset + self.chunk_size].tobytes()
        elif self._file is not None:
            read = self._file.read
            while chunk := read(self.chunk_size):
                yield chunk
        elif self._iterable is not None:
            for chunk in self._iterable:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise ConfigurationError(f"upload iterables must yield bytes, got {type(chunk).__name__}")
                yield bytes(chunk) if not isinstance(chunk, bytes) else chunk

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> UploadSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _seekable(file: BinaryIO) -> bool:
    try:
        return bool(file.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _position_and_remaining(file: BinaryIO) -> tuple[int, int | None]:
    """Where the file is now and how many bytes are left, for regular seekable files."""
    if not _seekable(file):
        return 0, None
    try:
        position = file.tell()
        fileno = file.fileno()
    except (OSError, io.UnsupportedOperation, AttributeError):
        try:
            position = file.tell()
            end = file.seek(0, io.SEEK_END)
            file.seek(position)
            return position, end - position
        except (OSError, ValueError):
            return 0, None
    status = os.fstat(fileno)
    if not stat.S_ISREG(status.st_mode):
        return position, None
    return position, max(status.st_size - position, 0)
