"""The node-local image cache: hits from verified files, misses filled while they are served.

Layout of the cache directory::

    index.sqlite          the index (glimpse.cache.index)
    data/<image id>       valid files: complete, verified, never rewritten or renamed
    incomplete/<id>       a fill's file, and incomplete/<id>.fill its lock and progress record

A hit is served from ``data/`` with the filesystem store's ``FileChunks`` (the
``sendfile`` fast path) after one ``fstat`` shows the file is still the one that
was verified (inode, size, modification time). A miss starts or joins the one
fill of that image on the node and streams it as it is written; the fill tries
the fillers other extensions register, then the image's stores, and the file
becomes valid only when its size and digest match the image record (``cache.verify``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glimpse.cache.fillers import CacheFiller
from glimpse.cache.fills import DONE, FAILED, FILLING, FillClaim, FollowingChunks, claim, is_abandoned, read_record
from glimpse.cache.index import CacheIndex, Entry
from glimpse.cache.verify import Digests, PrefixDigests
from glimpse.domain.images import Image, ImageStatus
from glimpse.services.image_data import OpenedData
from glimpse.stores.base import StoreError
from glimpse.stores.filesystem import FileChunks

if TYPE_CHECKING:
    from glimpse.services import Services

log = logging.getLogger(__name__)
READ_CHUNK = 1024 * 1024
HEADER = "X-Glimpse-Cache"


class ImageCache:
    """The image cache of one node (shared by its worker processes through the directory and the index)."""

    def __init__(self, services: Services, *, root: Path, max_size: int, stall_time: float,
                 fillers: Sequence[CacheFiller] = ()) -> None:
        self.services = services
        self.hooks = services.extensions.hook
        self.root = root
        self.data = root / "data"
        self.incomplete = root / "incomplete"
        for path in (self.data, self.incomplete):
            path.mkdir(parents=True, exist_ok=True)
        self.index = CacheIndex(root / "index.sqlite")
        self.max_size = max_size
        self.stall_time = stall_time
        self.fillers = list(fillers)
        self.stop = threading.Event()
        #: set when an image is queued, so that the prefetcher runs now
        self.wake = threading.Event()
        self._fills: dict[str, threading.Thread] = {}
        #: the stop event of each fill this process runs (set on close, or when the fill stalls)
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # -- serving

    def open(self, image: Image, offset: int, length: int, *, partial: bool) -> OpenedData | None:
        """The bytes of ``image`` from the cache (a hit) or from a fill (a miss); ``None``: let the stores serve."""
        if image.status is not ImageStatus.ACTIVE:
            self.drop(image.id, "the image is no longer active")
            return None
        if not image.size or image.size > self.max_size:
            return None
        for _ in range(3):
            hit = self._hit(image, offset, length)
            if hit is not None:
                return OpenedData(hit, {HEADER: "hit"})
            if partial:  # a range is served by the stores; the whole image is fetched in the background
                self.start_fill(image)
                return None
            owned = self.start_fill(image)
            try:
                following = self._follow(image, offset, length)
            except _FillFailed:
                return None  # the stores answer, or say clearly why they cannot
            if following is not None:
                return OpenedData(following, {HEADER: "miss" if owned else "miss; joined"})
        return None

    def _hit(self, image: Image, offset: int, length: int) -> FileChunks | None:
        entry = self.index.get(image.id)
        if entry is None:
            return None
        try:
            handle = open(self.data / image.id, "rb", buffering=0)  # noqa: SIM115 - FileChunks closes it
        except FileNotFoundError:
            self.drop(image.id, "its file is gone")
            return None
        problem = stale(entry, image, os.fstat(handle.fileno()))
        if problem is not None:
            handle.close()
            self.drop(image.id, problem)
            return None
        self.index.hit(image.id)
        return FileChunks(handle, offset, length, READ_CHUNK)

    def _follow(self, image: Image, offset: int, length: int) -> FollowingChunks | None:
        """Stream the running fill of ``image``; ``None`` when it has already ended (look for a hit again)."""
        try:
            record_fd = os.open(self.incomplete / f"{image.id}.fill", os.O_RDONLY)
        except FileNotFoundError:
            return None
        data_fd = self._open_fill_file(image.id, record_fd)
        if data_fd is None:
            os.close(record_fd)
            return None
        if read_record(record_fd)[1] in (DONE, FAILED):
            os.close(record_fd)
            os.close(data_fd)
            return None
        following = FollowingChunks(record_fd, data_fd, offset, length, stall_time=self.stall_time,
                                    fallback=lambda at, n: self._from_stores(image, at, n))
        if not following.first_bytes():
            following.close()
            raise _FillFailed(image.id)
        return following

    def _open_fill_file(self, image_id: str, record_fd: int) -> int | None:
        """The fill's file; a fill that has just claimed its record creates it a moment later."""
        for attempt in range(100):
            try:
                return os.open(self.incomplete / image_id, os.O_RDONLY)
            except FileNotFoundError:
                if read_record(record_fd)[1] != FILLING or attempt == 99:
                    return None
                time.sleep(0.01)
        return None

    # -- filling

    def start_fill(self, image: Image) -> bool:
        """Start filling ``image`` in a background thread unless a fill of it runs on this node; True if started."""
        if not image.size or image.size > self.max_size or image.status is not ImageStatus.ACTIVE:
            return False
        with self._lock:
            running = self._fills.get(image.id)
            if running is not None and running.is_alive():
                return False
            owned = claim(self.incomplete / f"{image.id}.fill")
            if owned is None:
                return False
            if self.index.get(image.id) is not None and (self.data / image.id).exists():
                owned.release()  # it became valid meanwhile
                return False
            owned.report(0)
            # the file exists before the lock is shared, so followers always find it
            fd = os.open(self.incomplete / image.id, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
            stop = threading.Event()
            if self.stop.is_set():
                stop.set()
            thread = threading.Thread(target=self._fill, args=(image, owned, fd, stop),
                                      name=f"cache-fill-{image.id}", daemon=True)
            self._fills[image.id] = thread
            self._stops[image.id] = stop
            thread.start()
        return True

    def fill_now(self, image: Image) -> bool:
        """Fill ``image`` and wait for it (the prefetcher); True when it is cached afterwards."""
        self.start_fill(image)
        with self._lock:
            thread = self._fills.get(image.id)
        if thread is not None:
            thread.join()
        else:  # another process fills it: wait for its record to go
            record = self.incomplete / f"{image.id}.fill"
            while record.exists() and not is_abandoned(record) and not self.stop.wait(0.05):
                pass
        return self.cached(image.id)

    def _fill(self, image: Image, owned: FillClaim, fd: int, stop: threading.Event) -> None:
        path = self.incomplete / image.id
        source: str | None = None
        try:
            source = self._fill_from(image, owned, fd, path, stop)
            if source is None:
                log.warning("cache fill of image %s failed from every source", image.id)
                owned.report(owned.progress, FAILED)
                path.unlink(missing_ok=True)
                return
            os.fdatasync(fd)
            final = self.data / image.id
            os.rename(path, final)
            stat = os.fstat(fd)
            self.index.add(image.id, size=stat.st_size, checksum=image.checksum, os_hash_value=image.os_hash_value,
                           inode=stat.st_ino, mtime_ns=stat.st_mtime_ns, source=source)
            owned.report(stat.st_size, DONE)
            log.info("image %s cached (%d bytes, from %s)", image.id, stat.st_size, source)
        except BaseException:
            log.exception("cache fill of image %s failed", image.id)
            with contextlib.suppress(OSError):
                owned.report(owned.progress, FAILED)
            path.unlink(missing_ok=True)
            return
        finally:
            os.close(fd)
            owned.release()
            with self._lock:
                self._fills.pop(image.id, None)
                self._stops.pop(image.id, None)
        self.services.extensions.observe(self.hooks.image_cached, image=image, path=self.data / image.id)
        self.prune()

    def _fill_from(self, image: Image, owned: FillClaim, fd: int, path: Path, stop: threading.Event) -> str | None:
        """Write the image into ``fd`` from the first source that delivers verified bytes; that source's name."""
        for filler in self.fillers:
            if self.stop.is_set():
                return None
            if stop.is_set():  # this source stalled: the stores get their turn
                stop.clear()
                log.warning("cache filler %s stalled on image %s; filling from the stores", filler.name, image.id)
                break
            prefix = PrefixDigests(fd, image)

            def progress(final: int, prefix: PrefixDigests = prefix) -> None:
                owned.report(final)  # followers first; the digest of what became final comes after
                prefix.advance(final)

            try:
                try:
                    delivered = filler.fill(image, path, progress, stop)
                except Exception:
                    log.exception("cache filler %s failed on image %s", filler.name, image.id)
                    delivered = False
                problem = prefix.mismatch() if delivered else None
            finally:
                prefix.close()
            if delivered:
                if problem is None:
                    return filler.name
                log.warning("cache filler %s delivered bad data for image %s: %s", filler.name, image.id, problem)
            os.ftruncate(fd, 0)
            owned.report(0)
            if stop.is_set() and not self.stop.is_set():
                stop.clear()
                log.warning("cache filler %s stalled on image %s", filler.name, image.id)
        return "store" if self._copy_from_stores(image, owned, fd, stop) else None

    def _copy_from_stores(self, image: Image, owned: FillClaim, fd: int, stop: threading.Event) -> bool:
        for location in image.locations:
            if stop.is_set():
                return False
            os.ftruncate(fd, 0)
            owned.report(0)
            digests = Digests(image)
            try:
                chunks = self.services.stores.get(location.store).open(location.key)
                try:
                    for chunk in chunks:
                        _write_all(fd, chunk, digests.size)
                        digests.update(chunk)
                        owned.report(digests.size)
                        if stop.is_set():
                            return False
                finally:
                    _close(chunks)
                problem = digests.mismatch()
            except (StoreError, OSError) as exc:
                log.warning("cache fill of image %s from store %s failed: %s", image.id, location.store, exc)
                continue
            finally:
                digests.close()
            if problem is None:
                return True
            log.error("the data of image %s in store %s does not match its record: %s", image.id, location.store,
                      problem)
        return False

    def _from_stores(self, image: Image, offset: int, length: int) -> Iterator[bytes]:
        """The rest of a download whose fill failed or stalled, straight from the stores."""
        for location in image.locations:
            try:
                chunks = self.services.stores.get(location.store).open(location.key, offset=offset, length=length)
            except StoreError:
                continue
            return iter(chunks)
        raise StoreError(f"no store could deliver the rest of image {image.id}")

    # -- keeping the cache

    def cached(self, image_id: str) -> bool:
        return self.index.get(image_id) is not None

    def entries(self) -> list[Entry]:
        return self.index.entries()

    def drop(self, image_id: str, why: str) -> bool:
        """Forget and remove the cached file of ``image_id``; True when there was one."""
        if not self.index.remove(image_id):
            return False
        log.info("image %s dropped from the cache: %s", image_id, why)
        self.services.extensions.observe(self.hooks.image_uncached, image_id=image_id)
        (self.data / image_id).unlink(missing_ok=True)
        return True

    def queue(self, image_id: str) -> None:
        """Queue an image for the prefetcher and wake it."""
        self.index.queue(image_id)
        self.wake.set()

    def forget(self, image_id: str) -> None:
        """Drop an image from the cache and from the queue."""
        self.index.unqueue(image_id)
        self.drop(image_id, "deleted through the cache API")

    def clear(self) -> int:
        return sum(self.drop(entry.image_id, "the cache was cleared") for entry in self.index.entries())

    def prune(self) -> int:
        """Evict least recently used images until the cache holds at most ``max_size`` bytes; how many went."""
        evicted = 0
        # one pruner at a time on the node: two that counted the same total would both evict, and one whose
        # victim the other had taken already went on to the next (seen: a file evicted as it became valid)
        fd = os.open(self.root / "prune.lock", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            total = self.index.total_size()
            for entry in self.index.entries():
                if total <= self.max_size:
                    break
                if self.drop(entry.image_id, "least recently used, over image_cache_max_size"):
                    evicted += 1
                total -= entry.size  # gone either way (a hit that found it stale may have dropped it)
        finally:
            os.close(fd)
        return evicted

    def stop_stalled(self) -> int:
        """Stop this process's fills that made no progress for ``stall_time``: a filler's turn ends, a store
        copy fails (and the cleaner may remove it); how many were stopped."""
        stopped = 0
        now = time.time()
        with self._lock:
            running = list(self._stops.items())
        for image_id, stop in running:
            try:
                idle = now - (self.incomplete / f"{image_id}.fill").stat().st_mtime
            except FileNotFoundError:
                continue
            if idle > self.stall_time and not stop.is_set():
                log.warning("cache fill of image %s made no progress for %.0f s; stopping it", image_id, idle)
                stop.set()
                stopped += 1
        return stopped

    def close(self) -> None:
        self.stop.set()
        with self._lock:
            for stop in self._stops.values():
                stop.set()
            threads = list(self._fills.values())
        for thread in threads:
            thread.join(timeout=5)
        self.index.close()


class _FillFailed(Exception):
    """The fill a download would follow failed before it had any bytes."""


def stale(entry: Entry, image: Image, stat: os.stat_result) -> str | None:
    """Why the file with ``stat`` is not the verified copy of ``image`` any more; ``None`` when it is."""
    if entry.checksum != image.checksum or entry.os_hash_value != image.os_hash_value:
        return "the image's checksums changed"
    if stat.st_size != entry.size or stat.st_size != image.size:
        return f"the file has {stat.st_size} bytes instead of {image.size}"
    if stat.st_ino != entry.inode or stat.st_mtime_ns != entry.mtime_ns:
        return "the file was modified after it was verified"
    return None


def _write_all(fd: int, data: bytes, at: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, at)
        view, at = view[written:], at + written


def _close(chunks: Any) -> None:
    close: Callable[[], None] | None = getattr(chunks, "close", None)
    if close is not None:
        close()
