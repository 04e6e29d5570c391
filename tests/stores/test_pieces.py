"""The shared parts of the remote drivers: pieces sent in parallel, and read-ahead of downloads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from glimpse.stores.base import StoreUnavailableError
from glimpse.stores.pieces import ParallelSends, PieceWriter
from glimpse.stores.readahead import Readahead


class Recorder(PieceWriter):
    """Pieces as the writer cuts them: ended ones, and the one still open."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.ended: list[bytes] = []
        self.open = bytearray()

    def add_to_piece(self, data: memoryview) -> None:
        self.open += data

    def end_piece(self) -> None:
        self.ended.append(bytes(self.open))
        self.open = bytearray()


@pytest.mark.parametrize("total", [0, 1, 9, 10, 11, 30, 31])
def test_pieces_are_cut_at_their_size_and_the_last_stays_open(total: int) -> None:
    data = bytes(range(total))
    writer = Recorder(10)
    for start in range(0, total, 7):
        writer.write(memoryview(data)[start:start + 7])
    assert all(len(piece) == 10 for piece in writer.ended)
    assert b"".join(writer.ended) + writer.open == data and writer.size == total
    assert (len(writer.open) > 0) == (total > 0)  # a full last piece is not ended before commit


def test_parallel_sends_run_at_most_width_at_once_and_raise_the_first_failure() -> None:
    running, most, lock = 0, 0, threading.Lock()

    def send(number: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        if number == 5:
            raise StoreUnavailableError("down")

    with ThreadPoolExecutor(max_workers=8) as pool:
        sends = ParallelSends(pool, 3)
        with pytest.raises(StoreUnavailableError):
            for number in range(20):
                sends.submit(send, number)
            sends.finish()
        sends.cancel()
    assert most == 3


class Source:
    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self.chunks, self.fail_at, self.closed, self.read = chunks, fail_at, False, 0

    def __iter__(self) -> Iterator[bytes]:
        for number, chunk in enumerate(self.chunks):
            if number == self.fail_at:
                raise StoreUnavailableError("gone")
            self.read += 1
            yield chunk

    def close(self) -> None:
        self.closed = True


def test_readahead_yields_everything_in_order_and_reads_only_a_few_chunks_ahead() -> None:
    source = Source([bytes([n]) * 3 for n in range(50)])
    assert b"".join(Readahead(iter(source), depth=2)) == b"".join(source.chunks)
    source = Source([b"x"] * 50)
    ahead = Readahead(iter(source), depth=2)
    assert next(ahead) == b"x"
    time.sleep(0.1)
    assert source.read <= 4  # one taken, two waiting, one blocked on the full queue
    ahead.close()


def test_readahead_raises_the_source_error_to_the_reader() -> None:
    ahead = Readahead(iter(Source([b"a", b"b", b"c"], fail_at=2)), depth=2)
    assert next(ahead) + next(ahead) == b"ab"
    with pytest.raises(StoreUnavailableError):
        next(ahead)


def test_closing_readahead_closes_the_driver_stream() -> None:
    class Closable:
        closed = False

        def __iter__(self) -> Iterator[bytes]:
            return self

        def __next__(self) -> bytes:
            return b"data"

        def close(self) -> None:
            self.closed = True

    inner = Closable()
    ahead = Readahead(inner, depth=2)
    assert next(ahead) == b"data"
    ahead.close()
    assert inner.closed
