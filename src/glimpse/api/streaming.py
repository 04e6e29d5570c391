"""Bridges between the async request/response bodies and the blocking service layer.

A worker thread pulls request chunks from the event loop one large block at a
time (one thread hop per :data:`CHUNK_SIZE`, not per network read), and
response chunks are pulled from blocking store iterators in the thread pool.
A download whose store stream is a region of a local file goes out with the
server's zero-copy ``sendfile`` where the server offers it (plain HTTP).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio.from_thread
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from glimpse.api.zerocopy import ZEROCOPY_SEND
from glimpse.services.image_data import CHUNK_SIZE, Download
from glimpse.stores.base import FileRegion


async def _coalesced(request: Request, block: int) -> AsyncIterator[bytes]:
    pending: list[bytes] = []
    held = 0
    async for chunk in request.stream():
        if not chunk:
            continue
        pending.append(chunk)
        held += len(chunk)
        if held >= block:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


class RequestChunks:
    """The request body as a blocking iterator of blocks of about ``block`` bytes.

    Iterate it only from a worker thread started by the event loop (as
    ``run_in_threadpool`` does); ``ClientDisconnect`` propagates from it.
    """

    def __init__(self, request: Request, block: int = CHUNK_SIZE) -> None:
        self._source = _coalesced(request, block)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                yield anyio.from_thread.run(self._next)
            except StopAsyncIteration:
                return

    async def _next(self) -> bytes:
        return await self._source.__anext__()


async def download_body(download: Download) -> AsyncIterator[bytes]:
    """Stream a download's chunks, closing the store stream however the response ends."""
    assert download.chunks is not None
    try:
        async for chunk in iterate_in_threadpool(download.chunks):
            yield chunk
    finally:
        await run_in_threadpool(download.close)


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
            else:
                async for chunk in download_body(download):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await run_in_threadpool(download.close)
