"""A store on a local or shared filesystem directory.

Writes go to a hidden temporary file in the same directory (the pending
object, whose path the ingest pipeline inspects), are fsynced and renamed into
place on commit, so a crash never leaves a half-written image visible.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from glimpse.stores.base import (
    StoreConfigError,
    StoredObject,
    StoreError,
    StoreFullError,
    StoreObjectNotFound,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_TEMP_PREFIX = ".incoming-"
READ_CHUNK = 1024 * 1024
#: While writing, data is flushed to disk in the background every this many bytes.
WRITEBACK_EVERY = 64 * 1024 * 1024
#: Written images up to this size stay in the page cache (capped at an eighth of memory), see :class:`_Writeback`.
KEEP_WRITTEN_UP_TO = 1024 * 1024 * 1024
_FADVISE = getattr(os, "posix_fadvise", None)


class FilesystemStore:
    """Objects are files named by key in ``path``."""

    def __init__(self, *, path: str, read_chunk_size: int = READ_CHUNK, drop_written_data: bool = True,
                 drop_written_data_above: int | None = None) -> None:
        self.root = Path(path).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        if not isinstance(read_chunk_size, int) or read_chunk_size <= 0:
            raise StoreConfigError("read_chunk_size", "must be a positive number of bytes")
        self._chunk = read_chunk_size
        if drop_written_data_above is None:
            drop_written_data_above = min(KEEP_WRITTEN_UP_TO, _memory() // 8)
        if not isinstance(drop_written_data_above, int) or drop_written_data_above < 0:
            raise StoreConfigError("drop_written_data_above", "must be a number of bytes, 0 or more")
        #: images growing beyond this many bytes leave the page cache as they are written; None: never
        self._drop_above = drop_written_data_above if drop_written_data else None

    def _path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise StoreError(f"invalid object key {key!r}")
        return self.root / key

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def begin(self, key: str, *, size: int | None = None) -> PendingFile:
        """Open a hidden temporary file beside the object's final name; :meth:`PendingFile.commit` renames it."""
        target = self._path(key)
        temp = self.root / f"{_TEMP_PREFIX}{key}-{os.getpid()}-{time.monotonic_ns()}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except FileNotFoundError:
            raise self._missing(key) from None
        except OSError as exc:
            raise _translate(exc) from exc
        return PendingFile(key, target, temp, fd, drop_above=self._drop_above)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> FileChunks:
        try:
            handle = open(self._path(key), "rb", buffering=0)  # noqa: SIM115 - FileChunks closes it
        except FileNotFoundError:
            raise self._missing(key) from None
        except OSError as exc:
            raise _translate(exc) from exc
        size = os.fstat(handle.fileno()).st_size
        available = max(0, size - offset)
        return FileChunks(handle, offset, available if length is None else min(length, available), self._chunk)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise _translate(exc) from exc

    def stat(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise self._missing(key) from None
        except OSError as exc:
            raise _translate(exc) from exc

    def _missing(self, key: str) -> StoreError:
        """No file for ``key``: the object is missing, or the whole store is (an unmounted share)."""
        if not self.root.is_dir():
            return StoreUnavailableError(f"filesystem store directory {self.root} does not exist")
        return StoreObjectNotFound(key)

    def check(self) -> None:
        if not self.root.is_dir():
            raise StoreUnavailableError(f"filesystem store directory {self.root} does not exist")
        probe = self.root / f"{_TEMP_PREFIX}probe-{os.getpid()}-{time.monotonic_ns()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreUnavailableError(f"filesystem store {self.root} is not writable: {exc.strerror}") from exc

    def adopt(self, source: object, source_key: str, key: str) -> StoredObject | None:
        """Move ``source_key`` of another filesystem store on the same filesystem to ``key`` here (a rename: no
        byte is copied); ``None`` when ``source`` is not such a store. The source object is gone afterwards."""
        if not isinstance(source, FilesystemStore):
            return None
        origin, target = source._path(source_key), self._path(key)
        try:
            os.rename(origin, target)
        except FileNotFoundError:
            raise source._missing(source_key) from None
        except OSError as exc:
            if exc.errno == errno.EXDEV:  # another filesystem: the bytes must be copied
                return None
            raise _translate(exc) from exc
        _os_call(_fsync_dir, target.parent)
        return StoredObject(key=key, url=self.url_for(key), size=self.stat(key))

    def local_file(self, key: str) -> str:
        """The path of ``key``'s file (for the format checks of data this store adopted)."""
        return str(self._path(key))

    def list_keys(self) -> Iterator[str]:
        """Every committed object's key (the optional listing ``glimpse-manage orphans`` uses)."""
        try:
            entries = list(os.scandir(self.root))
        except OSError as exc:
            raise _translate(exc) from exc
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                yield entry.name

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


class PendingFile:
    """An object being written to a hidden temporary file; :meth:`commit` fsyncs it and renames it into place.

    Used from one thread at a time. ``abort`` unlinks the file; after
    ``commit`` or a first ``abort`` it does nothing.
    """

    def __init__(self, key: str, target: Path, temp: Path, fd: int, *, drop_above: int | None) -> None:
        self.key = key
        self._target = target
        self._temp = temp
        self._fd: int | None = fd
        self._writeback = _Writeback(fd, drop_above=drop_above)
        self._written = 0
        self._finished = False

    def write(self, chunk: bytes | memoryview) -> None:
        if self._fd is None:
            raise StoreError(f"object {self.key!r} is no longer open for writing")
        view = memoryview(chunk)
        while view:
            n = _os_call(os.write, self._fd, view)
            view = view[n:]
            self._written += n
        self._writeback.wrote(self._written)

    def local_path(self) -> str:
        return str(self._temp)

    def commit(self) -> StoredObject:
        if self._fd is None:
            raise StoreError(f"object {self.key!r} is no longer open for writing")
        self._writeback.stop()
        _os_call(os.fsync, self._fd)
        self._writeback.synced(self._written)
        self._close()
        _os_call(os.replace, self._temp, self._target)
        self._finished = True
        _os_call(_fsync_dir, self._target.parent)
        return StoredObject(key=self.key, url=self._target.as_uri(), size=self._written)

    def abort(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._writeback.stop()
        self._close()
        try:
            self._temp.unlink(missing_ok=True)
        except OSError as exc:  # purge_incomplete removes it later
            log.warning("could not remove %s after an aborted write: %s", self._temp, exc)

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class FileChunks:
    """The bytes ``offset .. offset+length`` of an open file: an iterator of chunks and a :class:`FileRegion`."""

    def __init__(self, handle: BinaryIO, offset: int, length: int, chunk_size: int) -> None:
        self._handle = handle
        self.offset = offset
        self.length = length
        self._chunk = chunk_size
        self._position = offset

    def fileno(self) -> int:
        return self._handle.fileno()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        remaining = self.offset + self.length - self._position
        if remaining <= 0 or self._handle.closed:
            self.close()
            raise StopIteration
        data = _os_call(os.pread, self._handle.fileno(), min(self._chunk, remaining), self._position)
        if not data:
            self.close()
            raise StopIteration
        self._position += len(data)
        return data

    def close(self) -> None:
        self._handle.close()


class _Writeback:
    """Flushes a file being written to disk in the background, every :data:`WRITEBACK_EVERY` bytes.

    The final ``fsync`` then finds little left to do, and a large upload does
    not pile up dirty pages until the kernel throttles the writer.

    Once a file grows beyond ``drop_above`` bytes, what has reached the disk is
    dropped from the page cache (``POSIX_FADV_DONTNEED``, as object stores such
    as Swift do), from its first byte on: writing a very large image does not
    evict data other requests use, and the next pages written reuse the ones
    just freed instead of taking fresh memory, which costs the kernel several
    times more (on the virtual machines measured, about 3 CPU-seconds per GiB
    instead of under 1). Smaller images, the common case, stay cached whole, so
    the first download after an upload (often right after it: a boot, a copy
    to another store) is served from memory instead of the disk. ``None``
    never drops. Errors are left to that final ``fsync``, which reports them.
    """

    def __init__(self, fd: int, *, drop_above: int | None = None) -> None:
        self._fd = fd
        self._fadvise = _FADVISE if drop_above is not None else None
        self._drop_above = drop_above or 0
        self._due = WRITEBACK_EVERY
        self._written = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Writeback:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def wrote(self, total: int) -> None:
        if total < self._due:
            return
        self._due = total + WRITEBACK_EVERY
        self._written = total
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="writeback", daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        dropped = 0
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            written = self._written  # every byte up to here was written before the wake-up
            try:
                os.fdatasync(self._fd)
                if self._fadvise is not None and written > self._drop_above:
                    self._fadvise(self._fd, dropped, written - dropped, os.POSIX_FADV_DONTNEED)
                    dropped = written
            except OSError:
                return

    def synced(self, total: int) -> None:
        """All ``total`` bytes are on disk: drop them all if the file grew beyond the threshold."""
        if self._fadvise is not None and total > self._drop_above:
            with contextlib.suppress(OSError):
                self._fadvise(self._fd, 0, total, os.POSIX_FADV_DONTNEED)

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None


def _os_call(function: Callable[..., T], *args: Any) -> T:
    """Call ``function``, turning an ``OSError`` into the matching store error."""
    try:
        return function(*args)
    except OSError as exc:
        raise _translate(exc) from exc


def _memory() -> int:
    """Physical memory in bytes (a large number where the platform cannot tell)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 1 << 62


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
