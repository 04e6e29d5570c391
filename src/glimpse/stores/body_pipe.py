"""A stream of chunks fed by the caller and consumed in a thread of its own: a request body, or parts to send.

Lets a driver stream an upload of unknown length through a plain HTTP client
(chunked transfer encoding), or send parts in the background while the next one
fills, with bounded memory: at most ``depth`` chunks wait between the writer
and the consumer. Cancelling makes the stream fail, so a server never
completes the object.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()
_CANCEL = object()


class BodyCancelled(Exception):
    """Raised inside the body iterator when the upload is cancelled."""


class BodyPipe(Generic[T]):
    """Runs ``send(body)`` in a thread; :meth:`write` feeds ``body``; :meth:`finish` returns what ``send`` returned.

    ``send`` must consume the iterator it gets (an HTTP client sending it as the
    request body). If ``send`` ends early (the connection broke), the next
    :meth:`write` or :meth:`finish` raises what it raised.
    """

    def __init__(self, send: Callable[[Iterator[bytes]], T], *, depth: int = 4, name: str = "body-pipe") -> None:
        self._send = send
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if item is _CANCEL:
                raise BodyCancelled("upload cancelled")
            assert isinstance(item, bytes)
            yield item

    def _run(self) -> None:
        try:
            self._result = self._send(self._body())
        except BaseException as exc:  # handed to the writer's thread
            self._error = exc

    def _put(self, item: object) -> None:
        while True:
            if not self._thread.is_alive():
                self._raise_ended()
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _raise_ended(self) -> None:
        if self._error is not None:
            raise self._error
        raise ConnectionError("the request ended before its body was sent")

    def write(self, data: bytes) -> None:
        """Queue ``data`` (blocks while ``depth`` chunks wait)."""
        self._put(data)

    def finish(self) -> T:
        """End the body, wait for the answer and return it (or raise what ``send`` raised)."""
        self._put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    def cancel(self, *, timeout: float = 30.0) -> None:
        """Make the body fail and wait (up to ``timeout`` s) for the thread to end; never raises."""
        while self._thread.is_alive():
            try:
                while True:  # make room: what is queued will never be sent
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            try:
                self._queue.put(_CANCEL, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join(timeout)
