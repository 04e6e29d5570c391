"""``/v2/images/{id}/file``: streamed upload and (ranged) download."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from glimpse.api import caching
from glimpse.api.requests import context, media_type
from glimpse.api.requests import services as services_of
from glimpse.api.roles import REDIRECT_MARKER
from glimpse.api.routing import bodiless
from glimpse.api.server_offers import take_socket_body
from glimpse.api.streaming import DownloadResponse, RequestChunks
from glimpse.api.upload_slots import upload_slots
from glimpse.errors import RangeNotSatisfiable
from glimpse.services.image_data import ByteRange, Download

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)\s*-\s*(\d+)\s*/\s*(\d+|\*)\s*$", re.IGNORECASE)
OCTET_STREAM = "application/octet-stream"
#: Digits of the largest byte position read from a range (2**63 has 19): longer ones are answered 416.
_MAX_POSITION_DIGITS = 19


async def upload(request: Request) -> Response:
    services = services_of(request)
    size = data_request(request)
    upload = partial(services.image_data.upload, context(request), request.path_params["image_id"], size=size,
                     store=request.headers.get("x-image-meta-store") or None)
    with upload_slots(request).admit(context(request).project_id):
        body = await take_socket_body(request)
        if body is not None:  # plain TCP, Content-Length > 0: read by the upload thread (and never empty)
            try:
                await run_in_threadpool(upload, body)
            finally:
                body.release()
        else:
            async with RequestChunks(request) as chunks:
                await run_in_threadpool(upload, redirected(request, chunks))
    return Response(status_code=204)


def data_request(request: Request) -> int | None:
    """Check an upload or stage request: 415 unless ``application/octet-stream``; the declared size."""
    if media_type(request) != OCTET_STREAM:
        raise HTTPException(415, f"Image data must be sent as {OCTET_STREAM}.")
    return _declared_size(request)


def redirected(request: Request, chunks: Iterable[bytes]) -> Iterable[bytes]:
    """The body chunks, refusing (400) an empty body on an upload another node redirected here."""
    if REDIRECT_MARKER not in request.query_params:
        return chunks
    return _not_empty(chunks, request.query_params[REDIRECT_MARKER])


def _not_empty(chunks: Iterable[bytes], from_role: str) -> Iterator[bytes]:
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
    headers = request.headers
    byte_range = parse_range(request)
    dl = await _open_download(request, byte_range)
    if dl.chunks is None:
        return Response(status_code=204)
    image = dl.image
    if dl.partial and not caching.range_applies(headers, image):
        dl.close(report=False)  # If-Range names older data: send all of it
        dl = await _open_download(request, None)
    response_headers = caching.data_headers(image)
    response_headers.update(dl.headers)
    try:
        caching.check_if_match_data(headers, image)
    except BaseException:
        dl.close(report=False)
        raise
    if caching.data_not_modified(headers, image):
        dl.close(report=False)
        return Response(status_code=304, headers=response_headers)
    status = 200
    if dl.partial:
        status = 206
        response_headers["Content-Range"] = f"bytes {dl.offset}-{dl.offset + dl.length - 1}/{image.size}"
    elif image.checksum:
        response_headers["Content-MD5"] = image.checksum
    if request.method == "HEAD":
        dl.close(report=False)
        response_headers["Content-Length"] = str(dl.length)
        return Response(status_code=status, headers=response_headers, media_type=OCTET_STREAM)
    return DownloadResponse(dl, status_code=status, headers=response_headers, media_type=OCTET_STREAM)


async def _open_download(request: Request, byte_range: ByteRange | None) -> Download:
    services = services_of(request)
    prefer = [s.strip() for s in request.query_params.get("prefer", "").split(",") if s.strip()]
    if prefer and not services.stores.multiple:
        raise HTTPException(400, "'prefer' chooses among several stores, and this site has only one.")
    open_download = services.image_data.open_download
    image_id = request.path_params["image_id"]
    try:
        return await run_in_threadpool(open_download, context(request), image_id, byte_range, prefer=prefer)
    except RangeNotSatisfiable:
        if "if-range" not in request.headers:
            raise
        # The range may be about other data than the image has now; If-Range decides.
        dl = await run_in_threadpool(open_download, context(request), image_id, None, prefer=prefer)
        if dl.chunks is not None and not caching.range_applies(request.headers, dl.image):
            return dl
        dl.close(report=False)
        raise


def parse_range(request: Request) -> ByteRange | None:
    """The single byte range asked for by ``Range`` (or Glance's legacy ``Content-Range``)."""
    raw = request.headers.get("range")
    if raw is not None:
        if "," in raw:
            raise HTTPException(400, "Multiple byte ranges are not supported; ask for one range.")
        match = _RANGE.match(raw)
        if not match or not (match.group(1) or match.group(2)):
            raise HTTPException(416, f"Cannot parse the Range header {_shown(raw)}; use bytes=first-last.")
        first, last = _position(match.group(1), raw), _position(match.group(2), raw)
        if first is None:
            assert last is not None
            return ByteRange(suffix=last)
        if last is not None and last < first:
            raise HTTPException(416, f"The Range {_shown(raw)} ends before it starts.")
        return ByteRange(first=first, last=last)
    raw = request.headers.get("content-range")
    if raw is not None:
        match = _CONTENT_RANGE.match(raw)
        first, last = (_position(match.group(1), raw), _position(match.group(2), raw)) if match else (None, None)
        if first is None or last is None or last < first:
            raise HTTPException(416, f"Cannot parse the Content-Range header {_shown(raw)}.")
        return ByteRange(first=first, last=last)
    return None


def _position(digits: str, raw: str) -> int | None:
    """A byte position of a range header (``None`` if absent); 416 past any image's possible size."""
    if not digits:
        return None
    if len(digits) > _MAX_POSITION_DIGITS:
        raise HTTPException(416, f"The range {_shown(raw)} names a byte position beyond the end of any image.")
    return int(digits)


def _shown(raw: str) -> str:
    """A header value as quoted in a message: at most 80 characters of it."""
    return repr(raw if len(raw) <= 80 else raw[:80] + "…")
