"""``/v2/images/{id}/file``: streamed upload and (ranged) download."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from glimpse.api.requests import context, media_type
from glimpse.api.roles import REDIRECT_MARKER
from glimpse.api.routing import bodiless
from glimpse.api.streaming import RequestChunks, download_body
from glimpse.services import Services
from glimpse.services.image_data import ByteRange

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)\s*-\s*(\d+)\s*/\s*(\d+|\*)\s*$", re.IGNORECASE)
OCTET_STREAM = "application/octet-stream"


async def upload(request: Request) -> Response:
    services: Services = request.app.state.services
    chunks, size = data_body(request)
    await run_in_threadpool(
        services.image_data.upload, context(request), request.path_params["image_id"], chunks, size=size,
        store=request.headers.get("x-image-meta-store") or None,
    )
    return Response(status_code=204)


def data_body(request: Request) -> tuple[Iterable[bytes], int | None]:
    """The streamed image data of an upload or stage request, and the size the client declared.

    415 unless the body is ``application/octet-stream``; 400 for a bad size header.
    """
    if media_type(request) != OCTET_STREAM:
        raise HTTPException(415, f"Image data must be sent as {OCTET_STREAM}.")
    size = _declared_size(request)
    chunks: Iterable[bytes] = RequestChunks(request)
    if REDIRECT_MARKER in request.query_params:
        chunks = _not_empty(chunks, request.query_params[REDIRECT_MARKER])
    return chunks, size


def _not_empty(chunks: Iterable[bytes], from_role: str) -> Iterator[bytes]:
    """The chunks of a redirected upload, refusing (400) a body that turns out empty."""
    received = 0
    for chunk in chunks:
        received += len(chunk)
        yield chunk
    if not received:
        raise HTTPException(
            400,
            f"No image data arrived: this upload was redirected here from a {from_role} node and the client "
            "did not send the data again (python-glanceclient does not re-send chunked bodies). "
            "Upload directly to this streaming node.",
        )


def _declared_size(request: Request) -> int | None:
    raw = request.headers.get("x-openstack-image-size")
    name = "x-openstack-image-size"
    if raw is None:
        raw, name = request.headers.get("content-length"), "Content-Length"
    if raw is None:
        return None
    try:
        size = int(raw.strip())
    except ValueError:
        raise HTTPException(400, f"The {name} header must be an integer number of bytes, got {raw!r}.") from None
    if size < 0:
        raise HTTPException(400, f"The {name} header cannot be negative.")
    return size


@bodiless
async def download(request: Request) -> Response:
    services: Services = request.app.state.services
    byte_range = parse_range(request)
    prefer = [s.strip() for s in request.query_params.get("prefer", "").split(",") if s.strip()]
    if prefer and not services.stores.multiple:
        raise HTTPException(400, "'prefer' chooses among several stores, and this site has only one.")
    dl = await run_in_threadpool(
        services.image_data.open_download, context(request), request.path_params["image_id"], byte_range,
        prefer=prefer,
    )
    if dl.chunks is None:
        return Response(status_code=204)
    image = dl.image
    headers = {"Content-Length": str(dl.length), "Accept-Ranges": "bytes"}
    status = 200
    if dl.partial:
        status = 206
        headers["Content-Range"] = f"bytes {dl.offset}-{dl.offset + dl.length - 1}/{image.size}"
    elif image.checksum:
        headers["Content-MD5"] = image.checksum
    if request.method == "HEAD":
        dl.close()
        return Response(status_code=status, headers=headers, media_type=OCTET_STREAM)
    return StreamingResponse(download_body(dl), status_code=status, headers=headers, media_type=OCTET_STREAM)


def parse_range(request: Request) -> ByteRange | None:
    """The single byte range asked for by ``Range`` (or Glance's legacy ``Content-Range``)."""
    raw = request.headers.get("range")
    if raw is not None:
        if "," in raw:
            raise HTTPException(400, "Multiple byte ranges are not supported; ask for one range.")
        match = _RANGE.match(raw)
        if not match or not (match.group(1) or match.group(2)):
            raise HTTPException(416, f"Cannot parse the Range header {raw!r}; use bytes=first-last.")
        first, last = match.group(1), match.group(2)
        if not first:
            return ByteRange(suffix=int(last))
        if last and int(last) < int(first):
            raise HTTPException(416, f"The Range {raw!r} ends before it starts.")
        return ByteRange(first=int(first), last=int(last) if last else None)
    raw = request.headers.get("content-range")
    if raw is not None:
        match = _CONTENT_RANGE.match(raw)
        if not match or int(match.group(2)) < int(match.group(1)):
            raise HTTPException(416, f"Cannot parse the Content-Range header {raw!r}.")
        return ByteRange(first=int(match.group(1)), last=int(match.group(2)))
    return None
