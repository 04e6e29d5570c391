"""The client's seams, as protocols: how requests are sent (``Transport``,
``Response``) and how the caller is identified (``Auth``).

A test or an application can bring its own transport (another HTTP library,
a recorder) or its own auth (another token source) by implementing these.
The rest of the client imports this module only for type checking, so using
the client does not pay for importing ``typing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

#: A request body: nothing, bytes, or an iterable of byte chunks (sent chunked unless
#: the caller sets ``Content-Length``).
Body = bytes | Iterable[bytes] | None


class Response(Protocol):
    """A response whose body has not been read yet.

    Whoever gets a response closes it; reading the body to its end also
    releases the connection for reuse.
    """

    @property
    def status(self) -> int: ...

    @property
    def reason(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers; names in lower case."""
        ...

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Read up to ``len(buffer)`` body bytes into ``buffer``; 0 at the end of the body."""
        ...

    def read(self) -> bytes:
        """The rest of the body (use only for small metadata bodies)."""
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    def send(self, method: str, url: str, headers: Mapping[str, str], body: Body = None, *,
             timeout: float | None = None) -> Response:
        """Send one request and return the response once its headers arrived.

        Raises ``ConnectError``, ``Timeout`` or ``ConnectionLost``; never an
        ``APIError`` (statuses are the caller's business).
        """
        ...

    def close(self) -> None:
        """Close every idle connection."""
        ...


class Auth(Protocol):
    def headers(self, transport: Transport, timeout: float | None) -> dict[str, str]:
        """Headers that identify the caller on every image-service request."""
        ...

    def refresh(self) -> bool:
        """Forget a rejected token; ``True`` when a new one can be obtained (then retry once)."""
        ...
