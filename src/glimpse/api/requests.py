"""Reading what a request carries: identity, JSON bodies, the absence of a body."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from glimpse.context import RequestContext
from glimpse.domain.storable import check_document

if TYPE_CHECKING:
    from glimpse.services import Services


def services(request: Request) -> Services:
    """The service layer of this node."""
    built: Services = request.app.state.services
    return built


def context(request: Request) -> RequestContext:
    """The authenticated caller (set by :class:`~glimpse.api.middleware.EdgeMiddleware`)."""
    ctx: RequestContext = request.state.context
    return ctx


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request, *, max_size: int, accepted: tuple[str, ...] = ("application/json",)) -> Any:
    """The decoded JSON body; 415 for another content type, 413 when too large, 400 when malformed, nested
    too deeply, or holding text or integers no database stores (:func:`~glimpse.domain.storable.check_document`)."""
    kind = media_type(request)
    if kind not in accepted:
        raise HTTPException(
            415,
            f"Unsupported content type '{kind or 'none'}'; send {' or '.join(accepted)}.",
            headers=None,
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_size:
        raise HTTPException(413, f"The request body is larger than the limit of {max_size} bytes.")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_size:
            raise HTTPException(413, f"The request body is larger than the limit of {max_size} bytes.")
    if not raw.strip():
        raise HTTPException(400, "A JSON body was expected with this request.")
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise HTTPException(400, "The request body is not valid UTF-8.") from None
    except RecursionError:
        raise HTTPException(400, f"The JSON body is nested more than {_max_depth(request)} levels deep.") from None
    except ValueError as exc:
        raise HTTPException(400, f"The request body is not valid JSON: {exc}.") from None
    check_document(document, max_depth=_max_depth(request))
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _max_depth(request: Request) -> int:
    return services(request).settings.max_json_depth


async def json_object(request: Request, *, max_size: int) -> dict[str, Any]:
    body = await json_body(request, max_size=max_size)
    if not isinstance(body, dict):
        raise HTTPException(400, "The request body must be a JSON object.")
    return body


async def expect_no_body(request: Request) -> None:
    """400 if the request carries a body on a route that takes none."""
    length = request.headers.get("content-length")
    if length is not None and length.strip() not in ("", "0"):
        raise HTTPException(400, "A body is not expected with this request.")
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        async for chunk in request.stream():
            if chunk:
                raise HTTPException(400, "A body is not expected with this request.")
