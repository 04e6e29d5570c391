"""Hashing an upload with several algorithms at once, each on its own thread.

``hashlib`` releases the GIL while it digests large blocks, so MD5 (Glance's
``checksum``) and the ``os_hash_algo`` digest can run on different cores while
the uploading thread writes to the store. Each algorithm's thread takes blocks
in order from a short queue, so memory stays bounded (``depth`` blocks per
algorithm) and a slow hash slows the upload down instead of piling up data.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any

_END = None


class ParallelDigests:
    """Feed the same blocks to several hash objects, each digesting on its own thread.

    Call :meth:`finish` (after the last :meth:`update`) before reading the
    digests, and :meth:`close` on every path (it is idempotent) so no thread
    outlives the upload. :meth:`wait_digested` tells a caller that reuses its
    buffers when every algorithm is done with a block.
    """

    def __init__(self, *algorithms: str, depth: int = 4) -> None:
        self.hashes: dict[str, Any] = {
            name: hashlib.md5(usedforsecurity=False) if name == "md5" else hashlib.new(name) for name in algorithms
        }
        self._queues: list[queue.Queue[bytes | memoryview | None]] = []
        self._threads: list[threading.Thread] = []
        self._failure: BaseException | None = None
        self._digested = [0] * len(self.hashes)
        self._progress = threading.Condition()
        for index, (name, digest) in enumerate(self.hashes.items()):
            blocks: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=depth)
            thread = threading.Thread(target=self._digest, args=(index, digest, blocks), name=f"hash-{name}",
                                      daemon=True)
            thread.start()
            self._queues.append(blocks)
            self._threads.append(thread)

    def _digest(self, index: int, digest: Any, blocks: queue.Queue[bytes | memoryview | None]) -> None:
        try:
            while (block := blocks.get()) is not _END:
                digest.update(block)
                del block  # a reused buffer must not stay referenced from here
                self._advance(index)
        except BaseException as exc:  # reported to the uploading thread by finish()
            self._failure = exc
            self._advance(index)
            while blocks.get() is not _END:  # keep draining so update() never blocks forever
                self._advance(index)

    def _advance(self, index: int) -> None:
        with self._progress:
            self._digested[index] += 1
            self._progress.notify_all()

    def update(self, block: bytes | memoryview) -> None:
        """Queue ``block`` for every algorithm; it must not change until :meth:`wait_digested` says so."""
        for blocks in self._queues:
            blocks.put(block)

    def wait_digested(self, count: int) -> None:
        """Block until every algorithm is done with the first ``count`` blocks given to :meth:`update`."""
        with self._progress:
            self._progress.wait_for(lambda: min(self._digested) >= count)

    def finish(self) -> None:
        """Wait until every queued block is digested; afterwards ``hashes`` are complete."""
        self.close()
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        for blocks, thread in zip(self._queues, self._threads):
            if thread.is_alive():
                blocks.put(_END)
        for thread in self._threads:
            thread.join()

    def hexdigest(self, name: str) -> str:
        return str(self.hashes[name].hexdigest())
