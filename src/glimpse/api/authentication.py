"""The ASGI layer that authenticates every request except version discovery and health checks."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from glimpse.api.errors import error_response, status_for
from glimpse.auth import Authenticator
from glimpse.errors import IdentityUnavailable, Unauthenticated

PUBLIC_PATHS = frozenset({"/", "/versions", "/healthcheck"})


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        try:
            state["context"] = await self.authenticator.authenticate(headers, state["request_id"])
        except (Unauthenticated, IdentityUnavailable) as exc:
            extra = {"WWW-Authenticate": exc.challenge} if isinstance(exc, Unauthenticated) else None
            response = error_response(headers.get("accept"), status_for(exc), exc.message, headers=extra,
                                      request_id=state.get("request_id"))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
