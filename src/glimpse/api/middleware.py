"""Pure ASGI wrappers around the whole application (outside error handling)."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glimpse.api.errors import error_response
from glimpse.context import new_request_id

REQUEST_ID_HEADER = "x-openstack-request-id"
_MAX_REQUEST_ID = 64


class RequestIdMiddleware:
    """Give every request an id (adopting a sane inbound one) and echo it on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        inbound = headers.get(REQUEST_ID_HEADER)
        request_id = new_request_id()
        if inbound is not None:
            if len(inbound) > _MAX_REQUEST_ID:
                response = error_response(
                    headers.get("accept"), 400,
                    f"The {REQUEST_ID_HEADER} header may be at most {_MAX_REQUEST_ID} characters long.",
                    headers={REQUEST_ID_HEADER: request_id}, request_id=request_id,
                )
                await response(scope, receive, send)
                return
            if inbound.strip():
                request_id = inbound if inbound.startswith("req-") else f"req-{inbound}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
