"""The HTTP protocol of a worker: uvicorn's httptools protocol with Glimpse's two ASGI extensions.

On plain-TCP connections each request cycle is a :class:`Cycle`, which sends
``http.response.zerocopysend`` messages with ``sendfile``
(:mod:`glimpse.server.zerocopy`) and, for a request with a ``Content-Length``,
lets the application take the rest of the body straight from the socket
(:mod:`glimpse.server.socket_body`). TLS connections get uvicorn's plain cycle.

Buys: the two extensions below (figures in their modules). Internals (uvicorn,
checked by ``tests/server/test_contract.py``): ``HttpToolsProtocol``'s
``on_headers_complete``, ``data_received``, ``connection_lost``,
``_unset_keepalive_if_required``, ``_start_asgi_task`` (its task must not run
before the class swap), ``cycle``, ``pipeline``, ``parser``, ``flow`` and the
keep-alive timer; the class of the ``RequestResponseCycle`` it makes is swapped
for :class:`Cycle`; ``uvicorn._types``; httptools' ``set_dangerous_leniencies``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import httptools
from uvicorn._types import ASGIReceiveEvent
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from glimpse.api.server_offers import SOCKET_BODY, ZEROCOPY_SEND
from glimpse.server.socket_body import SocketBody
from glimpse.server.zerocopy import ZeroCopyCycle
from glimpse.server.limits import LimitedHttpToolsProtocol

log = logging.getLogger(__name__)


class HttpProtocol(LimitedHttpToolsProtocol):
    """uvicorn's httptools protocol, with the head limits of :mod:`glimpse.server.limits`, whose
    plain-TCP request cycles are :class:`Cycle` s."""

    #: bytes of a body taken and given back unfinished, to drop when they arrive
    _unread = 0
    #: called when the connection ends (the worker's count of connections, :mod:`glimpse.server.balance`)
    on_close: Callable[[], None] | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.on_close is not None:
            self.on_close()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle.response_started or type(cycle) is not RequestResponseCycle:
            return
        if self.transport.get_extra_info("sslcontext") is not None:
            return
        if self.transport.get_extra_info("socket") is None:
            return
        # The cycle's task has been created but not started: it will call the subclass's methods.
        cycle.__class__ = Cycle
        assert isinstance(cycle, Cycle)
        cycle.protocol = self
        cycle.adopt()
        cycle.body_length = _content_length(cycle.scope["headers"])
        cycle.receive_called = False
        cycle.body_taken = False
        extensions = cycle.scope.setdefault("extensions", {})
        extensions[ZEROCOPY_SEND] = {}
        if cycle.body_length:
            extensions[SOCKET_BODY] = {"take": cycle.take_body}

    def data_received(self, data: bytes) -> None:
        if self._unread:
            self._unset_keepalive_if_required()
            if len(data) <= self._unread:
                self._unread -= len(data)
                if not self._unread:
                    self._idle()
                return
            data = data[self._unread:]
            self._unread = 0
        super().data_received(data)

    def body_given_back(self, unread: int) -> None:
        """A taken body was read up to ``unread`` bytes before its end: parse what follows it afresh."""
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn's own parser
        self._unread = unread

    def _idle(self) -> None:
        """The rest of a given-back body has been dropped: wait for the next request as after a response."""
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self.pipeline and not self.transport.is_closing():
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)


class Cycle(ZeroCopyCycle):
    """A request cycle on a plain-TCP connection: zero-copy sends, and a body the application can take."""

    protocol: HttpProtocol
    #: the request's Content-Length, 0 when it has none (or is chunked)
    body_length: int
    receive_called: bool
    #: a :class:`SocketBody` owns the socket: the transport must stay paused until it is given back
    body_taken: bool

    async def receive(self) -> ASGIReceiveEvent:
        self.receive_called = True
        if self.body_taken:  # nothing to receive but the end of the connection or of the response
            await self.message_event.wait()
            return {"type": "http.disconnect"}
        return await super().receive()

    async def take_body(self) -> SocketBody | None:
        """The rest of the body as a :class:`SocketBody`, pausing the transport; ``None`` if it cannot be taken.

        It cannot once the application has received part of the body, when the
        whole body has already arrived, or while the connection is busy with
        another request (pipelining).
        """
        protocol = self.protocol
        if (self.receive_called or self.response_started or self.disconnected or not self.more_body
                or protocol.cycle is not self or protocol.pipeline or self.transport.is_closing()):
            return None
        remaining = self.body_length - len(self.body)
        if remaining <= 0:
            return None
        self.flow.pause_reading()
        if self.waiting_for_100_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        await self._drain()  # nothing of ours may be left to write while a thread owns the socket
        if self.disconnected or self.transport.is_closing():
            return None
        body = SocketBody(self.transport.get_extra_info("socket").fileno(), bytes(self.body), remaining,
                          self._given_back, protocol.body_pace)
        log.debug("body of %s %s read from the socket (%d bytes to come)", self.scope["method"],
                  self.scope["path"], remaining)
        self.body = bytearray()
        self.message_event.clear()
        self.body_taken = True
        return body

    def _given_back(self, body: SocketBody) -> None:
        self.body_taken = False
        if body.broken:  # as uvicorn does when the client goes away: no response, no connection
            self.disconnected = True
            self.transport.close()
            return
        if body.too_slow:  # answered (408), then closed: the rest of the body is not waited for
            self.keep_alive = False
            self.more_body = False
            return
        self.more_body = False
        self.protocol.body_given_back(body.remaining)


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int:
    length = 0
    for name, value in headers:
        if name == b"transfer-encoding":
            return 0
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return 0
    return length
