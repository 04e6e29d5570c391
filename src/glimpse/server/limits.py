"""Limits on the request head (request line and header fields), enforced while its bytes arrive.

httptools has no limit of its own: it gathers a header value of any length
(re-concatenating it on each read), and uvicorn does the same with the URL, so
one client sending a header of hundreds of MB held a worker until it was
killed. :class:`LimitedHttpToolsProtocol` is uvicorn's httptools protocol that

- answers 414 once the request target passes ``max_request_line`` bytes,
- answers 431 once the head passes ``max_request_line + max_header_bytes``,
  counting it in pieces of at most :data:`PIECE` bytes as they are fed to the
  parser, so a head is never held past its limit plus a piece; and, once its
  fields are in, when they are more than ``max_header_count`` or larger than
  ``max_header_bytes`` together;
- answers 408 to a head that has not fully arrived ``request_head_timeout``
  seconds after its first byte (or after the connection opened): a client
  trickling its headers (slowloris) cannot keep a connection forever.

Every refusal closes the connection (``Connection: close``): the parser
cannot find the next request after a head it did not read. Bodies take the
fast path: once the head is complete, bytes go straight to the parser.

The worker's own protocol (:class:`glimpse.server.protocol.HttpProtocol`)
derives from this class; a server without Glimpse's fast paths uses this class
itself (:func:`with_limits`), so the limits hold on every path. Touches
uvicorn's private ``HttpToolsProtocol`` callbacks (``on_url``, ``on_headers_complete``,
``send_400_response``, ``data_received``), pinned by its tests in
``tests/edge``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from glimpse.api.errors import error_response
from glimpse.server.body_pace import BodyPace

if TYPE_CHECKING:
    from glimpse.settings import Settings

#: Most bytes of an unfinished head fed to the parser between two checks of its size.
PIECE = 4096


@dataclass(frozen=True)
class HeadLimits:
    """The largest request head a worker reads; sizes in bytes, the timeout in seconds."""

    max_request_line: int = 8 * 1024
    max_header_bytes: int = 64 * 1024
    max_header_count: int = 100
    request_head_timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(max_request_line=settings.max_request_line, max_header_bytes=settings.max_header_bytes,
                   max_header_count=settings.max_header_count,
                   request_head_timeout=settings.request_head_timeout)


class HeadRefused(Exception):
    """Raised from a parser callback: the head breaks a limit and is answered with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`HeadLimits` on every request head."""

    head_limits = HeadLimits()
    #: how request bodies must keep coming (read by the sized-body fast path)
    body_pace = BodyPace()

    _in_head = True
    #: a byte of the current request has arrived
    _head_seen = False
    _head_bytes = 0
    _url_bytes = 0
    _refusal: HeadRefused | None = None
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_clock()  # a connection that never sends a byte is dropped as well

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio.Protocol allows a bool
        """The client will send no more: answer a request received whole (then close), drop anything else.

        uvicorn lets the transport close at once, so a request followed by a
        half-close (``shutdown(SHUT_WR)``) was never answered.
        """
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete and not self._head_seen:
            cycle.keep_alive = False  # closed once the response is out
            return True
        return None

    def data_received(self, data: bytes) -> None:
        if not self._in_head:
            super().data_received(data)
            return
        start, end = 0, len(data)
        while start < end:
            if not self._in_head:  # the head ended in the previous piece: the rest goes in one feed
                super().data_received(data[start:] if start else data)
                return
            piece = data[start:start + PIECE]
            start += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
            if self._in_head:
                self._head_bytes += len(piece)
                limits = self.head_limits
                if self._head_bytes > limits.max_request_line + limits.max_header_bytes:
                    self._refuse(HeadRefused(431, f"The request head is larger than the "
                                                  f"{limits.max_request_line + limits.max_header_bytes} bytes "
                                                  "this server reads."))
                    return
        if self._in_head and self._head_seen and self._head_timer is None:
            # Only a head that spans reads needs a clock: most arrive whole, and cost no timer.
            self._start_head_clock()

    def on_message_begin(self) -> None:
        self._in_head = self._head_seen = True
        self._head_bytes = self._url_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self.head_limits.max_request_line:
            self._refusal = HeadRefused(414, f"The request target is longer than the "
                                             f"{self.head_limits.max_request_line} bytes this server reads.")
            raise self._refusal
        super().on_url(url)

    def on_headers_complete(self) -> None:
        # Counted once the fields are in (a head that passes its size in total is refused in
        # data_received before it completes); summed only for heads that spanned pieces: a head that
        # arrived in one piece is smaller than any max_header_bytes allowed.
        limits = self.head_limits
        headers = self.headers
        if len(headers) > limits.max_header_count:
            self._refusal = HeadRefused(431, f"The request has more than {limits.max_header_count} header fields.")
            raise self._refusal
        if self._head_bytes and sum(len(name) + len(value) + 4 for name, value in headers) > limits.max_header_bytes:
            self._refusal = HeadRefused(431, f"The request's header fields are larger than "
                                             f"{limits.max_header_bytes} bytes in total.")
            raise self._refusal
        self._in_head = False
        self._stop_head_clock()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # what comes next is the next request's head
        self._head_seen = False
        self._head_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a head the parser rejects; a limit's own status when one was broken."""
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._refuse(self._refusal)

    def _refuse(self, refusal: HeadRefused) -> None:
        self._refusal = refusal
        self._stop_head_clock()
        if self.transport.is_closing():
            return
        response = error_response(None, refusal.status, refusal.message, headers={"Connection": "close"})
        lines = [f"HTTP/1.1 {refusal.status} {HTTPStatus(refusal.status).phrase}".encode("ascii")]
        lines += [name + b": " + value for name, value in response.raw_headers]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + bytes(response.body))
        self.transport.close()

    def _start_head_clock(self) -> None:
        self._stop_head_clock()
        self._head_timer = self.loop.call_later(self.head_limits.request_head_timeout, self._head_timed_out)

    def _stop_head_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._in_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._start_head_clock()  # a response is still going out: look again later
            return
        if not self._head_seen:
            self.transport.close()  # not a byte of a request: nothing to answer
            return
        self._refuse(HeadRefused(408, f"The request head did not arrive within "
                                      f"{self.head_limits.request_head_timeout:g} seconds."))


def with_limits(protocol: type[LimitedHttpToolsProtocol], limits: HeadLimits,
                pace: BodyPace) -> type[LimitedHttpToolsProtocol]:
    """``protocol`` configured with ``limits`` and ``pace`` (a subclass; the class itself is left alone)."""
    return type(protocol.__name__, (protocol,), {"head_limits": limits, "body_pace": pace})
