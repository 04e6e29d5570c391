"""The ``write()`` the remote drivers share: a stream of chunks cut into pieces of a fixed size.

An S3 part, a Swift segment and an RBD write are each one *piece*. The
pending objects of those drivers subclass :class:`PieceWriter`, which hands
each slice of a chunk to :meth:`~PieceWriter.add_to_piece` and calls
:meth:`~PieceWriter.end_piece` when a piece is full *and more data arrives*, so
the last piece, full or not, is always still open at ``commit()`` (S3 may then
send a small object as one PUT, Swift copy a single segment into place).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from glimpse.stores.base import StoreError


class PieceWriter:
    """Base of a pending object that sends its data in pieces of at most ``piece_size`` bytes."""

    #: the driver's name in errors ("S3 store", ...)
    driver = "store"

    def __init__(self, piece_size: int) -> None:
        self.piece_size = piece_size
        #: bytes written so far, and bytes in the piece now open
        self.size = 0
        self.piece_filled = 0
        self.finished = False

    def write(self, chunk: bytes | memoryview) -> None:
        if self.finished:
            raise StoreError(f"{self.driver}: write after commit or abort")
        view = memoryview(chunk).cast("B")
        while view:
            if self.piece_filled == self.piece_size:  # full, and more is coming: it is not the last piece
                self.end_piece()
                self.piece_filled = 0
            take = min(self.piece_size - self.piece_filled, len(view))
            self.add_to_piece(view[:take])
            view = view[take:]
            self.piece_filled += take
            self.size += take

    def add_to_piece(self, data: memoryview) -> None:
        """Append ``data`` (valid only during the call) to the piece now open."""
        raise NotImplementedError

    def end_piece(self) -> None:
        """The open piece is full and another one starts: send it (or let it go on being sent)."""
        raise NotImplementedError


class ParallelSends:
    """Up to ``width`` sends of pieces running at once on ``executor``; the first failure is raised to the writer.

    :meth:`submit` blocks while ``width`` sends run, so memory stays at
    ``width`` pieces (plus the one filling) whatever the object's size.
    """

    def __init__(self, executor: ThreadPoolExecutor, width: int) -> None:
        self._executor = executor
        self._width = max(1, width)
        self._running: set[Future[None]] = set()

    def submit(self, send: Callable[..., None], *args: Any) -> None:
        """Start ``send(*args)``, once fewer than ``width`` run; raises what an earlier send raised."""
        self._settle(self._width - 1)
        self._running.add(self._executor.submit(send, *args))

    def finish(self) -> None:
        """Wait for every send; raises the first failure."""
        self._settle(0)

    def cancel(self) -> None:
        """Drop the sends not started, wait for the others; never raises."""
        for future in self._running:
            future.cancel()
        wait(self._running)
        self._running = set()

    def _settle(self, most: int) -> None:
        while len(self._running) > most or any(f.done() for f in self._running):
            done, self._running = wait(self._running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
            if len(self._running) <= most:
                return
