"""Worker processes tell each other which images they wrote, so each can cache them before they are read.

Each worker keeps its own cache of images, filled on a first read (a database
load, some hundreds of microseconds with the rest of a cache miss). An image
is often read right after it is written (uploaded, then booted; created, then
shown) and the read lands on any worker, so most first reads would miss.

:class:`SiblingWrites` is memory the arbiter shares with its workers: a ring
of recently written image ids per worker slot (the slot of the
:class:`~glimpse.server.balance.LoadBoard`), each with a count of ids written.
A worker appends the ids it writes to its own ring (:class:`WritePublisher`;
one process per ring, its threads taking turns); a :class:`WriteFollower` reads what the
other rings gained since it last looked, and the worker loads those images into
its cache (:meth:`~glimpse.db.images.ImageRepository.warm`) a tenth of a
second later. A follower that falls a whole ring behind skips what it missed:
those images are simply loaded on their first read. What a reader takes from a
slot being rewritten is at worst another recent id or one that names no image.

Buys: a first read on the other worker costs 130–170 (mean 149) instead of 190–250 (mean 225) µs of
its CPU, p50 0.16–0.19 instead of 0.23–0.27 ms (``bench/first_reads.py``, fifth
pass of ``docs/performance.md``). Internals: none of a library's (anonymous
shared memory); the follower runs on uvicorn's ``on_tick`` through
:mod:`glimpse.server.worker_server`.
"""

from __future__ import annotations

import mmap
import struct
import threading

#: Bytes kept of an id (image ids are UUIDs: 36 characters).
ID_BYTES = 36
_COUNT = struct.Struct("q")


class SiblingWrites:
    """Per worker slot: a count of ids written and a ring of the last ``depth`` of them."""

    def __init__(self, slots: int = 64, depth: int = 2048) -> None:
        self.slots = slots
        self.depth = depth
        self._stride = _COUNT.size + depth * ID_BYTES
        self._memory = mmap.mmap(-1, slots * self._stride)  # anonymous and MAP_SHARED: one copy for all

    def reset(self, slot: int) -> None:
        """Empty a slot's ring (in the arbiter, before a new worker takes the slot)."""
        _COUNT.pack_into(self._memory, slot * self._stride, 0)

    def count(self, slot: int) -> int:
        return int(_COUNT.unpack_from(self._memory, slot * self._stride)[0])

    def append(self, slot: int, image_id: str) -> None:
        raw = image_id.encode("ascii", "replace")
        if len(raw) > ID_BYTES:
            return
        written = self.count(slot)
        start = slot * self._stride + _COUNT.size + (written % self.depth) * ID_BYTES
        self._memory[start:start + ID_BYTES] = raw.ljust(ID_BYTES, b"\0")
        _COUNT.pack_into(self._memory, slot * self._stride, written + 1)  # after the id: readers see it whole

    def read(self, slot: int, index: int) -> str:
        start = slot * self._stride + _COUNT.size + (index % self.depth) * ID_BYTES
        return self._memory[start:start + ID_BYTES].rstrip(b"\0").decode("ascii", "replace")


class WritePublisher:
    """Records the images one worker writes in its ring."""

    def __init__(self, shared: SiblingWrites, slot: int) -> None:
        self._shared = shared
        self._slot = slot
        self._lock = threading.Lock()  # writes commit on several threads of the worker

    def __call__(self, image_id: str) -> None:
        with self._lock:
            self._shared.append(self._slot, image_id)


class WriteFollower:
    """The ids the other workers wrote since the last call of :meth:`new_ids`."""

    def __init__(self, shared: SiblingWrites, own_slot: int) -> None:
        self._shared = shared
        self._own = own_slot
        self._seen = [shared.count(slot) for slot in range(shared.slots)]

    def new_ids(self) -> list[str]:
        shared = self._shared
        ids: list[str] = []
        for slot in range(shared.slots):
            if slot == self._own:
                continue
            count, seen = shared.count(slot), self._seen[slot]
            if count == seen:
                continue
            if count < seen:  # a new worker took the slot and started over
                seen = 0
            seen = max(seen, count - shared.depth)
            ids.extend(shared.read(slot, index) for index in range(seen, count))
            self._seen[slot] = count
        return list(dict.fromkeys(id_ for id_ in ids if id_))
