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
    outlives the upload.
    """

    def __init__(self, *algorithms: str, depth: int = 4) -> None:
        self.hashes: dict[str, Any] = {
            name: hashlib.md5(usedforsecurity=False) if name == "md5" else hashlib.new(name) for name in algorithms
        }
        self._queues: list[queue.Queue[bytes | None]] = []
        self._threads: list[threading.Thread] = []
        self._failure: BaseException | None = None
        for name, digest in self.hashes.items():
            blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
            thread = threading.Thread(target=self._digest, args=(digest, blocks), name=f"hash-{name}", daemon=True)
            thread.start()
            self._queues.append(blocks)
            self._threads.append(thread)

    def _digest(self, digest: Any, blocks: queue.Queue[bytes | None]) -> None:
        try:
            while (block := blocks.get()) is not _END:
                digest.update(block)
        except BaseException as exc:  # reported to the uploading thread by finish()
            self._failure = exc
            while blocks.get() is not _END:  # keep draining so update() never blocks forever
                pass

    def update(self, block: bytes) -> None:
        """Queue ``block`` (which must not change afterwards) for every algorithm."""
        for blocks in self._queues:
            blocks.put(block)

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
