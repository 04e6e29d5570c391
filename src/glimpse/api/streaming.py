"""Bridges between the async request/response bodies and the blocking service layer.

A worker thread pulls request chunks from the event loop one large block at a
time (one thread hop per :data:`CHUNK_SIZE`, not per network read), and
response chunks are pulled from blocking store iterators in the thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio.from_thread
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request

from glimpse.services.image_data import CHUNK_SIZE, Download


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
