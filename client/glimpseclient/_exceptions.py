"""Every exception the client raises, and the one table from HTTP status codes to them.

The tree::

    GlimpseClientError
    ├── ConfigurationError          no endpoint, contradictory options, unreadable files
    ├── TransportError              the request did not get an HTTP answer
    │   ├── ConnectError            could not connect (refused, DNS, TLS handshake)
    │   ├── Timeout                 no progress within the timeout
    │   └── ConnectionLost          the connection broke while sending or receiving
    ├── RedirectError               a redirect that cannot be followed (body not replayable, loop)
    ├── NoImageData                 a download of an image that has no data (still queued)
    ├── DataError                   the bytes are not what the image says they are
    │   ├── SizeMismatch
    │   └── ChecksumMismatch
    └── APIError                    the service answered with an error status
        ├── BadRequest              400
        ├── Unauthorized            401 (also a failed Keystone login)
        ├── Forbidden               403
        ├── NotFound                404
        ├── MethodNotAllowed        405
        ├── Conflict                409
        ├── Gone                    410
        ├── PayloadTooLarge         413
        ├── UnsupportedMediaType    415
        ├── RangeNotSatisfiable     416
        ├── TooManyRequests         429
        └── ServerError             5xx
            └── ServiceUnavailable  503

``APIError`` carries the status, the server's message (read from a Glimpse or
Glance JSON body, a Keystone error body, an HTML page or plain text) and the
request id (``x-openstack-request-id``), so a failure can be traced in the
server's logs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class GlimpseClientError(Exception):
    """Base class of every error raised by ``glimpseclient``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(GlimpseClientError):
    """The client was set up wrongly: missing endpoint, bad option, unreadable certificate."""


class TransportError(GlimpseClientError):
    """The request did not get an HTTP response."""


class ConnectError(TransportError):
    """Connecting failed (refused, unresolvable host, TLS handshake)."""


class Timeout(TransportError):
    """The server did not accept or send data within the timeout."""


class ConnectionLost(TransportError):
    """The connection broke after it was established.

    ``bytes_received`` counts response body bytes read before the break.
    """

    def __init__(self, message: str, bytes_received: int = 0) -> None:
        super().__init__(message)
        self.bytes_received = bytes_received


class RedirectError(GlimpseClientError):
    """A redirect could not be followed (for example a streamed upload that cannot be sent twice)."""


class NoImageData(GlimpseClientError):
    """The image has no data to download (for example it is still ``queued``)."""


class DataError(GlimpseClientError):
    """The image data does not match its recorded size or checksum."""


class SizeMismatch(DataError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"size mismatch: expected {expected} bytes, received {actual}")
        self.expected = expected
        self.actual = actual


class ChecksumMismatch(DataError):
    def __init__(self, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(f"{algorithm} mismatch: the image records {expected}, the data hashes to {actual}")
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class APIError(GlimpseClientError):
    """An error status from the service.

    Attributes: ``status`` (int), ``message`` (the server's explanation),
    ``request_id`` (``req-…`` or ``None``), ``method`` and ``url`` of the request.
    """

    def __init__(self, status: int, message: str, *, request_id: str | None = None, method: str = "",
                 url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id
        self.method = method
        self.url = url

    def __str__(self) -> str:
        text = f"{self.status}: {self.message}"
        if self.request_id and self.request_id not in self.message:  # the server's message may name it already
            text += f" (request {self.request_id})"
        return text


class BadRequest(APIError):
    pass


class Unauthorized(APIError):
    pass


class Forbidden(APIError):
    pass


class NotFound(APIError):
    pass


class MethodNotAllowed(APIError):
    pass


class Conflict(APIError):
    pass


class Gone(APIError):
    pass


class PayloadTooLarge(APIError):
    pass


class UnsupportedMediaType(APIError):
    pass


class RangeNotSatisfiable(APIError):
    pass


class TooManyRequests(APIError):
    pass


class ServerError(APIError):
    pass


class ServiceUnavailable(ServerError):
    pass


#: Status code -> exception class; statuses not listed fall back to ``ServerError`` (5xx) or ``APIError``.
STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    416: RangeNotSatisfiable,
    429: TooManyRequests,
    503: ServiceUnavailable,
}

_TAG = re.compile(r"<[^>]+>")


def error_for_status(status: int, headers: Mapping[str, str], body: bytes, *, reason: str = "",
                     method: str = "", url: str = "") -> APIError:
    """The exception for an error response; ``headers`` keys are lower case."""
    cls = STATUS_ERRORS.get(status) or (ServerError if status >= 500 else APIError)
    message, body_request_id = _message(headers.get("content-type", ""), body)
    request_id = headers.get("x-openstack-request-id") or body_request_id
    return cls(status, message or reason or f"HTTP {status}", request_id=request_id, method=method, url=url)


def _message(content_type: str, body: bytes) -> tuple[str, str | None]:
    """The human message in an error body, and a request id if the body carries one."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return "", None
    if "json" in content_type or text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            # Glimpse/Glance: {"message", "code", "title"[, "request_id"]}; Keystone: {"error": {...}}.
            error = document.get("error")
            inner: dict[str, Any] = error if isinstance(error, dict) else document
            message = inner.get("message") or inner.get("title") or ""
            request_id = document.get("request_id")
            return _clean(str(message)), str(request_id) if request_id else None
    if "html" in content_type or text.lstrip().startswith("<"):
        import html  # rare (Glance's default error pages); its entity table is slow to import

        body_text = text.split("<body>", 1)[-1]
        lines = [line.strip() for line in html.unescape(_TAG.sub("\n", body_text)).splitlines()]
        kept = [line for line in lines if line and not re.match(r"^\d{3} [A-Za-z]", line)]
        return _clean(": ".join(dict.fromkeys(kept))), None
    # WebOb plain text: "404 Not Found\n\n<explanation>\n\n   "
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and re.match(r"^\d{3} ", lines[0]):
        lines = lines[1:]
    return _clean(" ".join(lines)), None


def _clean(message: str) -> str:
    """Drop WebOb's ``<br />`` padding and collapse whitespace to one line."""
    message = message.replace("<br />", " ")
    return " ".join(message.split())
