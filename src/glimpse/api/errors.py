"""The single table from domain errors to HTTP responses, and error bodies.

Error bodies are negotiated on ``Accept`` the way Glance (WebOb) does it, so
every existing client can read them: JSON for clients that ask for JSON, an
HTML page for ``*/*`` and ``text/html`` (what python-glanceclient parses), and
plain text for ``text/plain``. One deliberate difference: with no or an empty
``Accept`` (openstacksdk sends ``Accept:`` on uploads and updates) Glance
answers plain text, which openstacksdk cannot read, so its users never see the
reason; we answer JSON, which it reads.
"""

from __future__ import annotations

import html
import json
import logging
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from glimpse import errors

log = logging.getLogger("glimpse.api")

#: Domain error class -> HTTP status; lookup follows the class hierarchy.
STATUS_CODES: dict[type[Exception], int] = {
    errors.Unauthenticated: 401,
    errors.IdentityUnavailable: 503,
    errors.InvalidRequest: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.ImageGone: 410,
    errors.LimitExceeded: 413,
    errors.ImageFormatMismatch: 415,
    errors.PreconditionFailed: 412,
    errors.RangeNotSatisfiable: 416,
    errors.StoreUnavailable: 503,
    errors.ClientTooSlow: 408,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
    errors.QueryTimeout: 503,
}

_OFFERS = ("text/html", "application/json", "text/plain")
#: Seconds a client is told to wait (``Retry-After``) before retrying a 503 that names no other figure.
RETRY_AFTER = 5


def status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def negotiate(accept: str | None) -> str:
    """The error media type for this ``Accept`` header (WebOb's choice, but JSON when absent)."""
    if not accept or not accept.strip():
        return "application/json"
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))

    def quality_of(offer: str) -> float:
        kind = offer.split("/")[0]
        best, specificity = 0.0, -1
        for media, quality in ranges:
            level = 2 if media == offer else 1 if media == f"{kind}/*" else 0 if media == "*/*" else -1
            if level > specificity:
                best, specificity = quality, level
        return best if specificity >= 0 else 0.0

    scored = [(quality_of(offer), -i, offer) for i, offer in enumerate(_OFFERS)]
    quality, _, offer = max(scored)
    return offer if quality > 0 else "text/plain"


def error_response(
    request_or_accept: Request | str | None,
    status: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """A negotiated error response with a human-readable ``message``; JSON bodies also carry ``details``."""
    if isinstance(request_or_accept, Request):
        accept = request_or_accept.headers.get("accept")
        request_id = request_id or getattr(request_or_accept.state, "request_id", None)
    else:
        accept = request_or_accept
    reason = HTTPStatus(status).phrase
    status_line = f"{status} {reason}"
    media = negotiate(accept)
    if media == "application/json":
        body: dict[str, Any] = {"message": message, "code": status_line, "title": reason, "status": status}
        if request_id:
            body["request_id"] = request_id
        body.update(details or {})
        content = json.dumps(body, ensure_ascii=False, default=str)
    elif media == "text/html":
        content = (
            f"<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n  <h1>{status_line}</h1>\n"
            f"  {html.escape(message, quote=False)}<br /><br />\n\n\n\n </body>\n</html>"
        )
        media = "text/html; charset=UTF-8"
    else:
        content = f"{status_line}\n\n{message}\n\n   "
        media = "text/plain; charset=UTF-8"
    return Response(content, status_code=status, headers=headers, media_type=media)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GlimpseError)
    headers = None
    if isinstance(exc, errors.RangeNotSatisfiable):
        headers = {"Content-Range": f"bytes */{exc.size}"}
    elif isinstance(exc, errors.Unauthenticated):
        headers = {"WWW-Authenticate": exc.challenge}
    elif isinstance(exc, (errors.Unavailable, errors.TooManyRequests)):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, (errors.StoreUnavailable, errors.IdentityUnavailable)):
        headers = {"Retry-After": str(RETRY_AFTER)}
    elif isinstance(exc, errors.ClientTooSlow):
        headers = {"Connection": "close"}  # the rest of the body may still be on its way
    details = None
    if isinstance(exc, errors.PropertyValueInvalid):
        # A client can act on these without parsing the message.
        details = {"property": exc.name, "rule": exc.rule, "value": exc.value}
    elif isinstance(exc, errors.ParametersInvalid):
        details = {"problems": [{"parameter": name, "reason": reason} for name, reason in exc.problems]}
    elif isinstance(exc, errors.TemplateInvalid):
        details = {"problems": [{"where": where, "line": line, "reason": reason}
                                for where, line, reason in exc.problems]}
    return error_response(request, status_for(exc), exc.message, headers=headers, details=details)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail
    if exc.status_code == 404 and message == "Not Found":
        message = f"The resource {request.url.path} could not be found."
    elif exc.status_code == 405 and message == "Method Not Allowed":
        message = f"The method {request.method} is not allowed for {request.url.path}."
    return error_response(request, exc.status_code, message, headers=dict(exc.headers or {}))


async def disconnected(request: Request, exc: Exception) -> Response:
    return error_response(request, 400, "The client disconnected before the request body was complete.")


async def unexpected(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", None)
    log.error("unexpected error in %s %s (request %s)", request.method, request.url.path, request_id, exc_info=exc)
    return error_response(
        request, 500, f"The server failed to handle this request; report request id {request_id} to the operator.",
        headers={"Connection": "close"},  # the failure may have left the request half-read
    )


EXCEPTION_HANDLERS = {
    errors.GlimpseError: domain_error,
    HTTPException: http_error,
    ClientDisconnect: disconnected,
    Exception: unexpected,
}
