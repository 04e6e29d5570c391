"""Reading a remote object ahead of its consumer: the next chunks arrive while the current one is sent on.

A download from a remote store otherwise alternates between waiting for the
backend and waiting for the client. :class:`Readahead` reads the driver's
chunk iterator in a thread of its own, at most ``depth`` chunks ahead (memory
stays ``depth`` chunks whatever the object's size), and re-raises the
driver's errors in the consumer's thread. ``close()`` stops the thread and
closes the driver's iterator.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

_END = object()


class Readahead:
    """Iterates ``chunks`` (which has ``close()``) through a thread reading up to ``depth`` chunks ahead."""

    def __init__(self, chunks: Iterator[bytes], *, depth: int = 2, name: str = "readahead") -> None:
        self._chunks = chunks
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for chunk in self._chunks:
                if not self._offer(chunk):
                    return
            self._offer(_END)
        except BaseException as exc:  # handed to the consumer
            self._offer(exc)

    def _offer(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self.close()
            raise item
        chunk: bytes = item
        return chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join()
        getattr(self._chunks, "close", lambda: None)()
