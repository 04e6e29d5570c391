"""Zero-copy responses: the ASGI ``http.response.zerocopysend`` extension for uvicorn.

uvicorn does not implement the ASGI ``http.response.zerocopysend`` extension
(https://asgi.readthedocs.io/en/latest/extensions.html#zero-copy-send), so a
file region would be read into Python and written back out, a copy per byte
each way. :class:`ZeroCopyCycle` is uvicorn's request cycle answering the
extension with ``os.sendfile`` from a worker thread: the kernel moves the bytes
from the page cache to the socket, and memory use does not depend on the size
sent. The worker's protocol (:mod:`glimpse.server.protocol`) gives plain-TCP
requests such cycles and advertises the extension in their scope.

The thread waits for the socket with ``poll`` when its buffer is full, so slow
clients cost a parked thread, not a busy loop; the event loop keeps serving
other connections meanwhile. TLS connections do not advertise the extension
(encryption needs the bytes in user space) and get the streamed body instead.

On the same plain connections the response head is held back until the first
body message (:class:`HeadHoldingTransport`), so a small response (a metadata
call) leaves in one write, one system call and one TCP segment, instead of a
head and then a body.

Buys: downloads from the page cache at 0.94–1.07× nginx's ``sendfile`` on one
stream (fourth pass of ``docs/performance.md``), memory independent of the size
sent. Internals: ``RequestResponseCycle.send``, ``flow`` (``write_paused``,
``drain``), ``transport``, ``expected_content_length``, ``chunked_encoding``,
``response_started``/``response_complete``, ``disconnected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import socket
from collections.abc import Iterator
from typing import Any, cast

import anyio.to_thread
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from glimpse.api.server_offers import ZEROCOPY_SEND

log = logging.getLogger(__name__)

#: A send that makes no progress for this long (seconds) gives up on the client.
STALL_TIMEOUT = 120.0
#: Most bytes handed to one ``sendfile`` call.
_MAX_CALL = 1 << 30


class HeadHoldingTransport:
    """A transport that, while :meth:`hold` is in force, keeps what is written and sends it
    in front of the next write (or at :meth:`release`, or before closing)."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._holding = False
        self._held = b""

    def hold(self) -> None:
        self._holding = True

    def stop_holding(self) -> None:
        """Stop holding; what is held goes out in front of the next write."""
        self._holding = False

    def release(self) -> None:
        """Stop holding; send whatever is held."""
        self._holding = False
        if self._held:
            held, self._held = self._held, b""
            self._transport.write(held)

    def write(self, data: bytes) -> None:
        if self._holding:
            self._held += data
            return
        if self._held:
            data, self._held = self._held + data, b""
        self._transport.write(data)

    def close(self) -> None:
        self.release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ZeroCopyCycle(RequestResponseCycle):
    """uvicorn's request cycle, also sending ``http.response.zerocopysend`` messages with ``sendfile``.

    Its transport must be a :class:`HeadHoldingTransport` (see :meth:`adopt`).
    """

    def adopt(self) -> None:
        """Wrap this cycle's transport so that a response head waits for its body."""
        self.transport = cast(asyncio.Transport, HeadHoldingTransport(self.transport))

    async def send(self, message: Any) -> None:
        kind = message["type"]
        transport = cast(HeadHoldingTransport, self.transport)
        if kind == "http.response.start" and not self.response_started:
            transport.hold()  # until the body: the head goes out with its first part
            try:
                await super().send(message)
            except BaseException:
                transport.release()
                raise
            return
        if kind != ZEROCOPY_SEND:
            transport.stop_holding()  # the body's write carries the head
            try:
                await super().send(message)
            finally:
                transport.release()  # a HEAD, 204 or 304 response writes no body
            return
        transport.release()
        if self.disconnected or transport.is_closing():
            self.disconnected = True
            return
        if not self.response_started or self.response_complete:
            raise RuntimeError(f"'{ZEROCOPY_SEND}' is only allowed between the response start and its end.")
        if self.chunked_encoding or self.scope["method"] == "HEAD":
            raise RuntimeError(f"'{ZEROCOPY_SEND}' needs a response with a Content-Length and a body.")
        source = message["file"]
        in_fd = source if isinstance(source, int) else source.fileno()
        offset = int(message.get("offset") or 0)
        count = message.get("count")
        count = self.expected_content_length if count is None else int(count)
        if count > self.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        await self._drain()
        log.debug("sendfile of %d bytes from offset %d", count, offset)
        sock = self.transport.get_extra_info("socket")
        try:
            with _corked(sock):
                sent = await anyio.to_thread.run_sync(send_file_region, sock.fileno(), in_fd, offset, count)
        except OSError:
            # The client went away (or stalled): drop the connection as uvicorn does on a disconnect.
            self.disconnected = True
            self.transport.close()
            return
        if sent < count:  # the file is shorter than promised: the response cannot be completed
            self.disconnected = True
            self.transport.close()
            return
        self.expected_content_length -= sent
        if not message.get("more_body", False):
            await super().send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _drain(self) -> None:
        """Wait until everything written through the transport (the headers) has reached the socket."""
        if self.flow.write_paused:
            await self.flow.drain()
        while self.transport.get_write_buffer_size() and not self.transport.is_closing():
            await asyncio.sleep(0.001)


@contextlib.contextmanager
def _corked(sock: Any) -> Iterator[None]:
    """Send only full segments while the file goes out (as nginx's ``tcp_nopush``); flush at the end."""
    cork = getattr(socket, "TCP_CORK", None)
    if cork is None:
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
    try:
        yield
    finally:
        # OSError: the peer is gone; ValueError: uvloop's socket has no descriptor any more (the
        # transport was closed while the file went out, e.g. the client reset the connection)
        with contextlib.suppress(OSError, ValueError):
            sock.setsockopt(socket.IPPROTO_TCP, cork, 0)


def send_file_region(out_fd: int, in_fd: int, offset: int, count: int) -> int:
    """``sendfile`` ``count`` bytes of ``in_fd`` from ``offset`` to the non-blocking socket ``out_fd``.

    Blocks the calling thread (never the event loop) until done; returns the
    number of bytes sent, less than ``count`` only if the file ends early.
    Raises ``OSError`` if the peer goes away, ``TimeoutError`` (an ``OSError``)
    if it takes nothing for :data:`STALL_TIMEOUT` seconds.
    """
    poller = select.poll()
    poller.register(out_fd, select.POLLOUT)
    sent = 0
    while sent < count:
        try:
            n = os.sendfile(out_fd, in_fd, offset + sent, min(count - sent, _MAX_CALL))
        except BlockingIOError:
            events = poller.poll(STALL_TIMEOUT * 1000)
            if not events:
                raise TimeoutError(f"the client took no data for {STALL_TIMEOUT:.0f} seconds") from None
            if any(flags & (select.POLLERR | select.POLLHUP) for _, flags in events):
                raise ConnectionResetError("the client closed the connection") from None
            continue
        if n == 0:
            break
        sent += n
    return sent
