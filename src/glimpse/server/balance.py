"""An even spread of connections over the worker processes.

Left to the kernel, a connection goes to whichever worker a hash of its
addresses picks (one ``SO_REUSEPORT`` socket per worker) or to whichever worker
wakes first (one shared socket, where the first to wake takes a whole burst).
Either way 16 keep-alive connections from a load balancer or a client pool
often land 10 to 6, and now and then 13 to 3, on two workers: one worker queues
twice the requests while the other idles, and latency doubles for good.

Here every worker takes connections from the one shared listening socket, and
only while it holds at most one more than the least loaded worker. Each worker
publishes how many it holds on a :class:`LoadBoard`, a slot per worker in
memory the arbiter shares with its workers. A worker that must not take a
waiting connection looks again a millisecond later; once a connection has
waited the share's ``patience`` (setting ``balance_patience``, default
:data:`PATIENCE`: the less loaded worker is busy), it takes it anyway, so no
connection waits on a stuck worker.

Buys: show c16 from ~12,000–13,000 to ~14,000–16,000 shows/s with two workers
(fourth pass of ``docs/performance.md``). Internals: the constructor of
uvicorn's protocol (``config``, ``server_state``, ``app_state``, ``_loop``),
called through :mod:`glimpse.server.worker_server`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import mmap
import select
import socket
import ssl
from collections.abc import Callable

from glimpse.server.protocol import HttpProtocol

log = logging.getLogger(__name__)

#: Seconds a waiting connection is left for a less loaded worker before a busier one takes it (the default).
PATIENCE = 0.005
#: Seconds a worker that left a connection to others waits before it looks again.
RETRY = 0.001
#: Seconds a worker stops accepting after running out of file descriptors or memory.
EXHAUSTED_PAUSE = 0.5

_FREE = -1


class LoadBoard:
    """The number of connections each worker holds, one slot per worker, shared across ``fork``."""

    def __init__(self, slots: int = 64) -> None:
        self.slots = slots
        self._memory = mmap.mmap(-1, slots * 8)  # anonymous and MAP_SHARED: the workers see one copy
        self._counts = memoryview(self._memory).cast("q")
        for slot in range(slots):
            self._counts[slot] = _FREE

    def claim(self, taken: set[int]) -> int | None:
        """A slot not in ``taken``, left out of :meth:`least` until its worker publishes; ``None`` if all are taken."""
        for slot in range(len(self._counts)):
            if slot not in taken:
                self._counts[slot] = _FREE
                return slot
        return None

    def release(self, slot: int) -> None:
        self._counts[slot] = _FREE

    def publish(self, slot: int, connections: int) -> None:
        self._counts[slot] = connections

    def least(self) -> int:
        """The fewest connections any live worker holds."""
        return min((count for count in self._counts if count != _FREE), default=0)


class Share:
    """One worker's connections, kept on the board."""

    def __init__(self, board: LoadBoard, slot: int | None, *, patience: float = PATIENCE) -> None:
        self._board = board
        self._slot = slot
        #: seconds a connection this worker may not take yet is left to the others before it takes it anyway
        self.patience = patience
        self._open = False
        self.held = 0

    def open(self) -> None:
        """The worker accepts from now on: count it in (a booting worker must not be waited for)."""
        self._open = True
        self._change(0)

    def close(self) -> None:
        """The worker accepts no more (it is stopping): count it out, so no one waits for it."""
        self._open = False
        if self._slot is not None:
            self._board.release(self._slot)

    def may_take(self) -> bool:
        # One over the least loaded is allowed: with short-lived connections, waiting for strict
        # turns cost a third of the connections per second; a burst of 16 splits 8/8 or 7/9.
        return self._slot is None or self.held <= self._board.least() + 1

    def taken(self) -> Callable[[], None]:
        """Count a new connection; the function returned counts its end (once, however often called)."""
        self._change(1)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._change(-1)

        return release

    def _change(self, delta: int) -> None:
        self.held += delta
        if self._slot is not None and self._open:
            self._board.publish(self._slot, self.held)


class Acceptor:
    """Accepts from a listening socket while its worker's :class:`Share` allows; closed like an asyncio server."""

    def __init__(self, sock: socket.socket, new_protocol: Callable[[], HttpProtocol], share: Share,
                 tls: ssl.SSLContext | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._new_protocol = new_protocol
        self._share = share
        self._tls = tls
        self._waiting_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._ready)

    def _ready(self) -> None:
        while not self._closed:
            if not self._share.may_take():
                now = self._loop.time()
                if self._waiting_since is None:
                    self._waiting_since = now
                if now - self._waiting_since < self._share.patience:
                    self._pause(RETRY)
                    return
            try:
                conn, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                self._waiting_since = None  # nothing waits: another worker took it
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                log.error("cannot accept connections for %.1f s: %s", EXHAUSTED_PAUSE, exc)
                self._pause(EXHAUSTED_PAUSE)
                return
            self._waiting_since = None
            release = self._share.taken()
            task = self._loop.create_task(self._serve(conn, release))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket, release: Callable[[], None]) -> None:
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        protocol = self._new_protocol()
        protocol.on_close = release
        try:
            await self._loop.connect_accepted_socket(lambda: protocol, conn, ssl=self._tls)
        except (OSError, asyncio.CancelledError) as exc:  # a failed TLS handshake (an OSError too), a peer gone
            log.debug("connection dropped before it was served: %r", exc)
            conn.close()
            release()
            if isinstance(exc, asyncio.CancelledError):
                raise

    def _pause(self, seconds: float) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._timer = self._loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        self._timer = None
        if self._closed:
            return
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        if not poller.poll(0):
            self._waiting_since = None  # what waited was taken elsewhere
        self._loop.add_reader(self._sock.fileno(), self._ready)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())

    async def wait_closed(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks))
