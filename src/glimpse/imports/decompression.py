"""The ``image-decompression`` import plugin: gzip, xz, bzip2, zstd and zip data decompressed on the way in.

Data without a compression signature passes untouched. Decompression streams
(zip needs its central directory, so a zip is spooled first and must hold
exactly one file); decompression bombs are refused as soon as the output
grows beyond ``max_ratio`` times the input read so far (past the first MiB) or
beyond ``max_size`` bytes. A ``compressed`` container becomes ``bare``.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from glimpse.domain.images import Image
from glimpse.errors import ImageTooLarge, ImageUnsafe
from glimpse.services.imports import Transformed

NAME = "image-decompression"
CHUNK = 1024 * 1024
SIGNATURES = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bzip2"), (b"\x28\xb5\x2f\xfd", "zstd"),
              (b"PK\x03\x04", "zip"))
#: output allowed before the ratio applies (small inputs legitimately expand a lot)
_SLACK = CHUNK


class _Source(io.RawIOBase):
    """The import's chunks as a readable file, counting the bytes the decompressor consumed."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = bytes(chunk)
        count = min(len(buffer), len(self._buffer))
        buffer[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        self.consumed += count
        return count


def _reader(kind: str, source: _Source) -> Any:
    """A file whose ``read(n)`` gives at most ``n`` decompressed bytes."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=source, mode="rb")
    if kind == "xz":
        return lzma.LZMAFile(cast("IO[bytes]", source))
    if kind == "bzip2":
        return bz2.BZ2File(source)
    return zstandard.ZstdDecompressor().stream_reader(cast("IO[bytes]", source), read_size=CHUNK)


class Decompression:
    """Decompresses import data within caps: ``max_ratio`` (output/input) and ``max_size`` (output bytes)."""

    name = NAME

    def __init__(self, *, max_ratio: int, max_size: int, spool_dir: Path) -> None:
        self._max_ratio = max_ratio
        self._max_size = max_size
        self._spool_dir = spool_dir

    @contextlib.contextmanager
    def apply(self, image: Image, chunks: Iterator[bytes], size: int | None) -> Iterator[Transformed]:
        first = b""
        for chunk in chunks:
            first += bytes(chunk)
            if len(first) >= 8:
                break
        kind = next((name for magic, name in SIGNATURES if first.startswith(magic)), None)
        rest = _prepend(first, chunks)
        container = "bare" if image.container_format == "compressed" else None
        if kind is None:
            if image.container_format == "compressed":
                raise ImageUnsafe("image-decompression: the container_format is 'compressed' but the data has no "
                                  "gzip, xz, bzip2, zstd or zip signature")
            yield Transformed(rest, size)
            return
        if kind == "zip":
            with self._zip_member(rest) as member:
                yield Transformed(member, None, container_format=container)
            return
        source = _Source(rest)
        with _reader(kind, source) as reader:
            yield Transformed(self._stream(kind, reader, source), None, container_format=container)

    def _check(self, kind: str, read: int, written: int) -> None:
        if written > self._max_size:
            raise ImageTooLarge(f"image-decompression: the {kind} data expands beyond {self._max_size} bytes")
        if written > _SLACK and written > read * self._max_ratio:
            raise ImageUnsafe(f"image-decompression: the {kind} data expands more than {self._max_ratio} times "
                              "(a decompression bomb)")

    def _stream(self, kind: str, reader: Any, source: _Source) -> Iterator[bytes]:
        written = 0
        while True:
            try:
                block = reader.read(CHUNK)
            except (OSError, EOFError, ValueError, lzma.LZMAError, zstandard.ZstdError) as exc:
                raise ImageUnsafe(f"image-decompression: the {kind} data is damaged ({exc})") from None
            if not block:
                break
            written += len(block)
            self._check(kind, source.consumed, written)
            yield block
        if written == 0:
            raise ImageUnsafe(f"image-decompression: the {kind} data decompresses to nothing")

    @contextlib.contextmanager
    def _zip_member(self, chunks: Iterator[bytes]) -> Iterator[Iterator[bytes]]:
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self._spool_dir) as spool:
            read = 0
            for chunk in chunks:
                read += len(chunk)
                if read > self._max_size:
                    raise ImageTooLarge(f"image-decompression: the zip archive is larger than {self._max_size} bytes")
                spool.write(chunk)
            try:
                archive = zipfile.ZipFile(spool)
            except zipfile.BadZipFile as exc:
                raise ImageUnsafe(f"image-decompression: the zip archive is damaged ({exc})") from None
            with archive:
                files = [info for info in archive.infolist() if not info.is_dir()]
                if len(files) != 1:
                    raise ImageUnsafe(f"image-decompression: the zip archive holds {len(files)} files, not one image")
                self._check("zip", files[0].compress_size, files[0].file_size)
                with archive.open(files[0]) as member:
                    yield self._counted_member(member, files[0].compress_size)

    def _counted_member(self, member: Any, compressed: int) -> Iterator[bytes]:
        written = 0
        while block := member.read(CHUNK):
            written += len(block)
            self._check("zip", compressed, written)
            yield block


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
