"""A store on a local or shared filesystem directory.

Writes go to a hidden temporary file in the same directory, are fsynced and
renamed into place, so a crash never leaves a half-written image visible.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from glimpse.stores.base import (
    StoredObject,
    StoreError,
    StoreFullError,
    StoreObjectNotFound,
    StoreUnavailableError,
)

_TEMP_PREFIX = ".incoming-"
READ_CHUNK = 1024 * 1024


class FilesystemStore:
    """Objects are files named by key in ``path``."""

    def __init__(self, *, path: str, read_chunk_size: int = READ_CHUNK, **_ignored: object) -> None:
        self.root = Path(path).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._chunk = read_chunk_size

    def _path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise StoreError(f"invalid object key {key!r}")
        return self.root / key

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def put(self, key: str, chunks: Iterable[bytes], *, size: int | None = None) -> StoredObject:
        target = self._path(key)
        temp = self.root / f"{_TEMP_PREFIX}{key}-{os.getpid()}-{time.monotonic_ns()}"
        written = 0
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                with os.fdopen(fd, "wb", buffering=0) as out:
                    for chunk in chunks:
                        view = memoryview(chunk)
                        while view:
                            n = out.write(view)
                            assert n is not None
                            view = view[n:]
                            written += n
                    os.fsync(out.fileno())
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            os.replace(temp, target)
            _fsync_dir(self.root)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise _translate(exc) from exc
        return StoredObject(key=key, url=target.as_uri(), size=written)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        try:
            handle = open(self._path(key), "rb", buffering=0)  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise StoreObjectNotFound(key) from None
        except OSError as exc:
            raise _translate(exc) from exc
        return self._read(handle, offset, length)

    def _read(self, handle: object, offset: int, length: int | None) -> Iterator[bytes]:
        assert hasattr(handle, "readinto")
        with handle:  # type: ignore[attr-defined]
            if offset:
                handle.seek(offset)  # type: ignore[attr-defined]
            remaining = length
            while remaining is None or remaining > 0:
                want = self._chunk if remaining is None else min(self._chunk, remaining)
                data = handle.read(want)  # type: ignore[attr-defined]
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise _translate(exc) from exc

    def stat(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise StoreObjectNotFound(key) from None

    def check(self) -> None:
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreUnavailableError(f"filesystem store {self.root} is not writable")

    def purge_incomplete(self, *, older_than: float) -> list[str]:
        """Remove temporary files of writes abandoned more than ``older_than`` seconds ago."""
        cutoff = time.time() - older_than
        removed = []
        for entry in self.root.glob(f"{_TEMP_PREFIX}*"):
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed.append(entry.name)
            except FileNotFoundError:
                continue
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _translate(exc: OSError) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFullError(f"no space left in filesystem store: {exc.strerror}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreUnavailableError(f"filesystem store refused access: {exc.strerror}")
    return StoreError(f"filesystem store error: {exc}")
