"""Sized request bodies read straight from the socket by a worker thread.

uvicorn hands a request body to the application in pieces of at most 64 KiB,
each costing Python callbacks on the event loop (the parser's ``on_body``, a
read pause and resume, a ``receive()`` copy): about 1.5 CPU-seconds per GiB,
and an upload's hash threads would wait for the event loop. For a plain-TCP
request with a ``Content-Length``, the worker's protocol
(:mod:`glimpse.server.protocol`) offers the ASGI extension :data:`~glimpse.api.server_offers.SOCKET_BODY`
instead: a handler takes the rest of the body as a :class:`SocketBody`, whose
:meth:`~SocketBody.readinto` a worker thread calls to ``recv_into`` the caller's
buffers while the connection's transport is paused. Bytes the server had
already received come first.

Whoever takes a body calls :meth:`SocketBody.release` on the event loop once
the reading thread is done with it, and the connection goes back to the
server: after a complete body it serves the next request (keep-alive); after
an early stop (an error response before the whole body arrived) the rest of
the body is read and dropped, as uvicorn does; after the client went away it
is closed.

Buys: 4.6–4.8 → 3.7–4.0 worker CPU-seconds per GiB uploaded (second pass of
``docs/performance.md``). Internals (through :mod:`glimpse.server.protocol`):
the cycle's ``body``, ``more_body``, ``message_event``,
``waiting_for_100_continue`` and ``flow.pause_reading``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from starlette.requests import ClientDisconnect


from glimpse.errors import ClientTooSlow
from glimpse.server.body_pace import BodyPace, PaceMeter


class SocketBody:
    """The rest of one request body, read from (a duplicate of) the connection's socket.

    ``buffered`` is what the server had received of the body already;
    ``remaining`` the bytes still to come from the socket. :meth:`readinto` is
    blocking: call it from a worker thread, and call :meth:`release` on the
    event loop afterwards, however the reading ended.
    """

    def __init__(self, fd: int, buffered: bytes, remaining: int,
                 give_back: Callable[[SocketBody], None], pace: BodyPace | None = None) -> None:
        self._sock = socket.socket(fileno=os.dup(fd))
        self._pace = pace or BodyPace()
        self._meter = PaceMeter(self._pace)
        # A timeout keeps the shared file description non-blocking (as the event loop needs it);
        # the socket object waits with poll between reads.
        self._sock.settimeout(self._pace.idle_timeout)
        self._buffered = memoryview(buffered)
        #: bytes of the body not yet read from the socket
        self.remaining = remaining
        #: the client went away before the body was complete
        self.broken = False
        #: the body stalled or fell below the minimum rate (answered 408, then the connection closes)
        self.too_slow = False
        self._give_back = give_back
        self._released = False

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with the next bytes of the body; fewer only at its end, 0 once it is over.

        Raises :class:`ClientDisconnect` if the client closes the connection or
        resets it, :class:`~glimpse.errors.ClientTooSlow` if it sends nothing
        for the pace's idle timeout or falls below its minimum rate.
        """
        filled = 0
        if self._buffered:
            filled = min(len(buffer), len(self._buffered))
            buffer[:filled] = self._buffered[:filled]
            self._buffered = self._buffered[filled:]
        wanted = min(len(buffer), filled + self.remaining)
        recv_into = self._sock.recv_into
        arrived = self._meter.arrived
        try:
            while filled < wanted:
                received = recv_into(buffer[filled:wanted])
                if not received:
                    raise ConnectionResetError("the client closed the connection")
                filled += received
                self.remaining -= received
                arrived(received)
        except TimeoutError:
            self.too_slow = True
            raise self._pace.stalled() from None
        except OSError:  # reset or closed
            self.broken = True
            raise ClientDisconnect() from None
        except ClientTooSlow:
            self.too_slow = True
            raise
        return filled

    def release(self) -> None:
        """Give the connection back to the server (on the event loop, once no thread reads any more)."""
        if self._released:
            return
        self._released = True
        self._sock.close()
        self._give_back(self)
