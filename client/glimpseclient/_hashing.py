"""Hashing downloads off the main thread, so verifying costs no wall-clock time next to the transfer.

``hashlib`` releases the GIL while it hashes more than 2 KiB, so one thread
per algorithm (SHA-512 for ``os_hash_value``; MD5 too when the ``checksum``
is checked as well) runs alongside the thread that reads the socket and
writes the file. Each thread holds at most
``depth`` pending chunks; a slower hash makes the reader wait rather than
letting memory grow.
"""

from __future__ import annotations

import queue
import threading
TYPE_CHECKING = False
if TYPE_CHECKING:
    import hashlib


class ParallelHasher:
    def __init__(self, hashes: dict[str, hashlib._Hash], *, depth: int = 2) -> None:
        self._hashes = hashes
        self._queues: list[queue.Queue[bytes | None]] = []
        self._threads: list[threading.Thread] = []
        for name, hasher in hashes.items():
            pending: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
            thread = threading.Thread(target=_consume, args=(hasher, pending), name=f"glimpseclient-{name}",
                                      daemon=True)
            thread.start()
            self._queues.append(pending)
            self._threads.append(thread)

    def update(self, chunk: bytes) -> None:
        """Hash ``chunk`` (which must not change afterwards) in every algorithm."""
        for pending in self._queues:
            pending.put(chunk)

    def hexdigests(self) -> dict[str, str]:
        """Wait for every hash to catch up; the digests by algorithm name."""
        self.close()
        return {name: hasher.hexdigest() for name, hasher in self._hashes.items()}

    def close(self) -> None:
        """Stop the threads (after they hashed what was queued)."""
        for pending in self._queues:
            pending.put(None)
        for thread in self._threads:
            thread.join()
        self._queues, self._threads = [], []


def _consume(hasher: hashlib._Hash, pending: queue.Queue[bytes | None]) -> None:
    while (chunk := pending.get()) is not None:
        hasher.update(chunk)
