"""The one pure ASGI layer around the whole application (outside error handling).

It gives every request an id (adopting a sane inbound one) and echoes it on
every response, rewrites minor-version paths (answering unknown version
prefixes with 300), and authenticates the caller: one layer, one parse of the
headers, instead of a layer for each.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glimpse.api import authentication, versions
from glimpse.api.errors import error_response
from glimpse.auth import Authenticator
from glimpse.context import new_request_id
from glimpse.observability.logging import request_id as current_request_id

REQUEST_ID_HEADER = "x-openstack-request-id"
_MAX_REQUEST_ID = 64


class EdgeMiddleware:
    """Request id, version negotiation and authentication, in that order, for every HTTP request."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, public_endpoint: str | None = None, *,
                 registry: str | None = None, streaming: str | None = None, cache: bool = False) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_endpoint = public_endpoint
        self.endpoints = {"registry": registry, "streaming": streaming}
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = request_id_for(headers)
        if isinstance(request_id, Response):
            await request_id(scope, receive, send)
            return
        scope.setdefault("state", {})["request_id"] = request_id
        current_request_id.set(request_id)  # for log lines of this request's task and its threads

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        negotiated = versions.negotiate(scope, receive, self.public_endpoint, **self.endpoints, cache=self.cache)
        if isinstance(negotiated, Response):
            await negotiated(scope, receive, send_with_id)
            return
        refusal = await authentication.authenticate(self.authenticator, negotiated, headers)
        if refusal is not None:
            await refusal(negotiated, receive, send_with_id)
            return
        await self.app(negotiated, receive, send_with_id)


def request_id_for(headers: Headers) -> str | Response:
    """This request's id: the inbound ``X-OpenStack-Request-Id`` (``req-`` prefixed) or a new one;
    or the 400 answer to one too long."""
    inbound = headers.get(REQUEST_ID_HEADER)
    request_id = new_request_id()
    if inbound is None:
        return request_id
    if len(inbound) > _MAX_REQUEST_ID:
        return error_response(
            headers.get("accept"), 400,
            f"The {REQUEST_ID_HEADER} header may be at most {_MAX_REQUEST_ID} characters long.",
            headers={REQUEST_ID_HEADER: request_id}, request_id=request_id,
        )
    if inbound.strip():
        return inbound if inbound.startswith("req-") else f"req-{inbound}"
    return request_id
