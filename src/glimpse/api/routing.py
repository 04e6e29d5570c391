"""One route per path with a method table, so unknown methods get 405 with ``Allow``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from glimpse.api.requests import expect_no_body
from glimpse.domain.storable import check_text
from glimpse.observability.access import mark_route

Handler = Callable[[Request], Awaitable[Response]]


def bodiless(handler: Handler) -> Handler:
    """Mark a handler whose route refuses a request body (400)."""
    handler.bodiless = True  # type: ignore[attr-defined]
    return handler


def resource(path: str, **methods: Handler) -> Route:
    """A route for ``path`` dispatching on the HTTP method (``GET=...``, ``PATCH=...``).

    ``HEAD`` is served wherever ``GET`` is.
    """
    table = {name.upper(): handler for name, handler in methods.items()}
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])
    allow = ", ".join(m for m in table if m != "HEAD")

    async def dispatch(request: Request) -> Response:
        mark_route(request.scope, path)
        handler = table.get(request.method)
        if handler is None:
            raise HTTPException(405, headers={"Allow": allow})
        for name, value in request.path_params.items():
            check_text(f"The path parameter '{name}'", value)
        if getattr(handler, "bodiless", False):
            await expect_no_body(request)
        return await handler(request)

    # Route all common methods to ``dispatch`` so that it, not Starlette, answers 405.
    return Route(path, dispatch, name=path, methods=_ALL_METHODS)


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
