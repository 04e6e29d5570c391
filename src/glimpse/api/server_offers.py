"""The ASGI extensions a server may offer the edge, as the edge sees them.

A worker of :mod:`glimpse.server` advertises these in ``scope["extensions"]``
on plain-TCP connections when fast paths are on; under any other server (or
with ``server_fast_paths = false``) they are absent and the edge uses plain
ASGI. The edge names them here, so it never imports the server that offers
them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request

#: ASGI zero-copy send (https://asgi.readthedocs.io/en/latest/extensions.html#zero-copy-send).
ZEROCOPY_SEND = "http.response.zerocopysend"
#: The rest of a sized request body, read straight from the socket; ``"take"`` is an async
#: callable returning a :class:`TakenBody`, or ``None`` when the body cannot be taken.
SOCKET_BODY = "glimpse.http.request.socket_body"


class TakenBody(Protocol):
    """The rest of one request body, taken from the server (see :data:`SOCKET_BODY`)."""

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with the next bytes (blocking: from a worker thread); 0 once the body is over.

        Raises :class:`starlette.requests.ClientDisconnect` if the client goes away.
        """
        ...

    def release(self) -> None:
        """Give the connection back to the server (on the event loop, once no thread reads any more)."""
        ...


async def take_socket_body(request: Request) -> TakenBody | None:
    """The rest of ``request``'s body as a :class:`TakenBody`, if the server offers it for this request.

    ``None`` (read the body as usual) over TLS, for chunked bodies, under
    other servers, or when part of the body was already received through ASGI.
    """
    offer = request.scope.get("extensions", {}).get(SOCKET_BODY)
    if offer is None:
        return None
    take: Callable[[], Awaitable[TakenBody | None]] = offer["take"]
    return await take()
