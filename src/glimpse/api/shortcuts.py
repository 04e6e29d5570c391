"""The hottest read, ``GET /v2/images/{image_id}``, handed straight to its route's handler.

Showing an image is most of an image service's traffic (every server boot
reads its image, often several times), and on a cached image the handler
itself takes about 45 µs. Starlette's layers around it (error middleware,
exception middleware, the router, the request/response wrapper) add about a
third to that, which at concurrency shows up in every latency percentile.

:class:`ImageShowShortcut` sits between :class:`~glimpse.api.middleware.EdgeMiddleware`
(request id, version, authentication: all still done) and Starlette. For a
``GET`` whose path is exactly what the image route matches, it calls the very
handler the router would (the node's role decides which one, as for the
router) and answers an exception with the application's own exception
handlers, so the response is the same as through the full stack. Every other
request goes through Starlette.
"""

from __future__ import annotations

from typing import Any

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from glimpse.api.v2.routes import IMAGE
from glimpse.observability.access import mark_route

_PREFIX = IMAGE.split("{", 1)[0]  # "/v2/images/"


class ImageShowShortcut:
    """An ASGI layer answering ``GET /v2/images/{image_id}`` without Starlette's routing and error layers."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        routes = [route for route in app.routes if isinstance(route, Route) and route.path == IMAGE]
        self._dispatch = routes[0].endpoint if routes else None
        self._handlers: dict[Any, Any] = dict(app.exception_handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        image_id = self._image_id(scope) if self._dispatch is not None else None
        if image_id is None:
            await self.app(scope, receive, send)
            return
        # What Starlette and its router put in the scope for a handler.
        scope["app"] = self.app
        scope["path_params"] = {"image_id": image_id}
        mark_route(scope, IMAGE)
        request = Request(scope, receive, send)
        try:
            response: Response = await self._dispatch(request)  # type: ignore[misc]
        except Exception as exc:
            response = await self._answer(request, exc)
        await response(scope, receive, send)

    @staticmethod
    def _image_id(scope: Scope) -> str | None:
        """The image id if this is a ``GET`` of ``/v2/images/{image_id}``, else ``None``."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path = get_route_path(scope)
        if not path.startswith(_PREFIX):
            return None
        image_id = path[len(_PREFIX):]
        return image_id if image_id and "/" not in image_id else None

    async def _answer(self, request: Request, exc: Exception) -> Response:
        """The response the application's exception handlers give ``exc`` (the most specific one)."""
        for cls in type(exc).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                answer: Response = await handler(request, exc)
                exc.__traceback__ = None
                return answer
        raise exc
