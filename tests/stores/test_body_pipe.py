"""``BodyPipe``: a request body fed by the writer and sent by a thread of its own (the Swift driver's uploads)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from glimpse.stores.body_pipe import BodyCancelled, BodyPipe


class Receiver:
    """A ``send`` that reads the whole body, as an HTTP client sending it would, and notes how it ended."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.ended = threading.Event()
        self.error: BaseException | None = None

    def __call__(self, body: Iterator[bytes]) -> int:
        try:
            for chunk in body:
                self.received += chunk
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.ended.set()
        return len(self.received)


def test_finish_returns_what_send_returned_after_every_chunk() -> None:
    receiver = Receiver()
    pipe = BodyPipe(receiver, depth=2)
    for n in range(10):
        pipe.write(bytes([n]) * 1000)
    assert pipe.finish() == 10_000
    assert bytes(receiver.received) == b"".join(bytes([n]) * 1000 for n in range(10))


def test_cancel_fails_the_body_so_the_request_never_completes() -> None:
    receiver = Receiver()
    pipe = BodyPipe(receiver, depth=2)
    pipe.write(b"first")
    pipe.cancel(timeout=5)
    assert receiver.ended.is_set() and isinstance(receiver.error, BodyCancelled)


def test_a_pipe_dropped_unfinished_ends_its_thread_instead_of_waiting_forever() -> None:
    receiver = Receiver()
    pipe = BodyPipe(receiver, depth=2, name="dropped-pipe")
    pipe.write(b"a chunk, then the writer dies")
    del pipe
    gc.collect()
    assert receiver.ended.wait(5), "the pipe's thread still waits for chunks of a writer that is gone"
    assert isinstance(receiver.error, BodyCancelled)
    for thread in threading.enumerate():
        if thread.name == "dropped-pipe":
            thread.join(5)
            assert not thread.is_alive()


def test_a_send_that_ended_early_is_raised_to_the_writer() -> None:
    def refuses(body: Iterator[bytes]) -> None:
        next(body)
        raise ConnectionResetError("the server closed the connection")

    pipe = BodyPipe(refuses, depth=1)
    with pytest.raises(ConnectionResetError):
        for _ in range(100):
            pipe.write(b"x" * 100)
        pipe.finish()
