"""A stream of chunks fed by the caller and consumed in a thread of its own: a request body, or parts to send.

Lets a driver stream an upload of unknown length through a plain HTTP client
(chunked transfer encoding), or send parts in the background while the next one
fills, with bounded memory: at most ``depth`` chunks wait between the writer
and the consumer. Cancelling makes the stream fail, so a server never
completes the object; so does dropping the pipe without finishing or cancelling
it (a writer that died): its thread ends instead of waiting for chunks forever
with the request open.
"""

from __future__ import annotations

import queue
import threading
import weakref
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
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._outcome = _Outcome[T]()
        # the thread holds the queue and the outcome, never the pipe: a pipe dropped unfinished is collected
        self._thread = threading.Thread(target=_run, args=(send, self._queue, self._outcome), name=name, daemon=True)
        self._thread.start()
        weakref.finalize(self, _fail_body, self._queue, self._thread)

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
        if self._outcome.error is not None:
            raise self._outcome.error
        raise ConnectionError("the request ended before its body was sent")

    def write(self, data: bytes) -> None:
        """Queue ``data`` (blocks while ``depth`` chunks wait)."""
        self._put(data)

    def finish(self) -> T:
        """End the body, wait for the answer and return it (or raise what ``send`` raised)."""
        self._put(_END)
        self._thread.join()
        if self._outcome.error is not None:
            raise self._outcome.error
        return self._outcome.result  # type: ignore[return-value]

    def cancel(self, *, timeout: float = 30.0) -> None:
        """Make the body fail and wait (up to ``timeout`` s) for the thread to end; never raises."""
        _fail_body(self._queue, self._thread)
        self._thread.join(timeout)


class _Outcome(Generic[T]):
    """What ``send`` returned or raised, handed from the pipe's thread to the writer."""

    def __init__(self) -> None:
        self.result: T | None = None
        self.error: BaseException | None = None


def _run(send: Callable[[Iterator[bytes]], T], chunks: queue.Queue[object], outcome: _Outcome[T]) -> None:
    try:
        outcome.result = send(_body(chunks))
    except BaseException as exc:  # handed to the writer's thread
        outcome.error = exc


def _body(chunks: queue.Queue[object]) -> Iterator[bytes]:
    while True:
        item = chunks.get()
        if item is _END:
            return
        if item is _CANCEL:
            raise BodyCancelled("upload cancelled")
        assert isinstance(item, bytes)
        yield item


def _fail_body(chunks: queue.Queue[object], thread: threading.Thread) -> None:
    """Make the body raise :class:`BodyCancelled` at its next chunk (what is queued is dropped: never sent)."""
    while thread.is_alive():
        try:
            while True:
                chunks.get_nowait()
        except queue.Empty:
            pass
        try:
            chunks.put(_CANCEL, timeout=0.1)
            return
        except queue.Full:
            continue
