"""Bridges between the async request/response bodies and the blocking service layer.

The event loop gathers the request body into large blocks that a worker
thread takes from a short queue (one hand-over per :data:`CHUNK_SIZE`, not per
network read), and
response chunks are pulled from blocking store iterators in the thread pool.
A download whose store stream is a region of a local file, or a cache fill's
file as it becomes final, goes out with the server's zero-copy ``sendfile``
where the server offers it (plain HTTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import AsyncGenerator, Iterator

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from glimpse.api.server_offers import ZEROCOPY_SEND
from glimpse.services.image_data import CHUNK_SIZE, Download
from glimpse.stores.base import FileRegion, GrowingFileRegion


class RequestChunks:
    """The request body as a blocking iterator of blocks of about ``block`` bytes.

    A task on the event loop reads the body as it arrives and keeps up to
    ``depth`` blocks ready, so receiving overlaps with what the consuming
    thread does with the previous blocks (hashing, writing), while memory stays
    bounded. Iterate it from a worker thread; ``ClientDisconnect`` propagates
    from it. Use it as an async context manager: leaving stops the reader.
    """

    def __init__(self, request: Request, block: int = CHUNK_SIZE, depth: int = 2) -> None:
        self._request = request
        self._block = block
        self._ready: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()
        self._space = asyncio.Semaphore(depth)
        self._loop = asyncio.get_running_loop()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RequestChunks:
        self._reader = self._loop.create_task(self._read())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        reader = self._reader
        if reader is None:
            return
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        elif not reader.cancelled():
            reader.exception()  # already handed to the consuming thread: not an unretrieved task error

    async def _read(self) -> None:
        pending: list[bytes] = []
        held = 0
        try:
            async for chunk in self._request.stream():
                if not chunk:
                    continue
                pending.append(chunk)
                held += len(chunk)
                if held >= self._block:
                    await self._space.acquire()
                    self._ready.put(b"".join(pending))
                    pending, held = [], 0
            if pending:
                await self._space.acquire()
                self._ready.put(b"".join(pending))
            self._ready.put(None)
        except BaseException as exc:  # handed to the consuming thread, which raises it
            self._ready.put(exc if isinstance(exc, Exception) else ClientDisconnect())
            raise

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            self._loop.call_soon_threadsafe(self._space.release)
            yield item


class DownloadResponse(Response):
    """The bytes of an open :class:`Download`, which it closes however the response ends."""

    def __init__(self, download: Download, *, status_code: int, headers: dict[str, str], media_type: str) -> None:
        super().__init__(status_code=status_code, headers={**headers, "Content-Length": str(download.length)},
                         media_type=media_type)
        self.download = download

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        download = self.download
        region = download.chunks
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if download.length == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif isinstance(region, FileRegion) and ZEROCOPY_SEND in scope.get("extensions", {}):
                await send({"type": ZEROCOPY_SEND, "file": region.fileno(), "offset": region.offset,
                            "count": region.length, "more_body": False})
                download.sent = region.length
            elif isinstance(region, GrowingFileRegion) and ZEROCOPY_SEND in scope.get("extensions", {}):
                await _send_until_gone(_region_messages(region, download), receive, send)
            else:
                await _send_until_gone(_chunk_messages(download), receive, send)
        finally:
            await run_in_threadpool(download.close)


async def _send_until_gone(messages: AsyncGenerator[Message, None], receive: Receive, send: Send) -> None:
    """Send a response body's messages and end it, unless the client goes away first: then the source is
    read no further (a store is not read on for nobody; a cache fill goes on for its other readers)."""
    gone = asyncio.ensure_future(_disconnect(receive))
    try:
        async for message in messages:
            if gone.done():
                return
            await send(message)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        gone.cancel()
        await messages.aclose()


async def _chunk_messages(download: Download) -> AsyncGenerator[Message, None]:
    """The store stream's chunks, read in the thread pool (the response closes the download)."""
    async for chunk in iterate_in_threadpool(iter(download)):
        yield {"type": "http.response.body", "body": chunk, "more_body": True}


async def _region_messages(region: GrowingFileRegion, download: Download) -> AsyncGenerator[Message, None]:
    """Each region of a file being written, by ``sendfile``, as it becomes final (``bytes`` as they come)."""
    while (part := await run_in_threadpool(region.next_part)) is not None:
        if isinstance(part, bytes):
            download.sent += len(part)
            yield {"type": "http.response.body", "body": part, "more_body": True}
        else:
            fd, offset, count = part
            download.sent += count
            yield {"type": ZEROCOPY_SEND, "file": fd, "offset": offset, "count": count, "more_body": True}


async def _disconnect(receive: Receive) -> None:
    """Return when the client has gone away (or its connection can no longer be read)."""
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
