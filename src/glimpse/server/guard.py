"""The outermost ASGI layer: request bodies keep their pace, and a 5xx ends its connection honestly.

:class:`EdgeGuard` wraps the whole application, whatever server runs it:

- while a request body is incomplete, each ``receive()`` may wait at most the
  idle timeout, and the bytes received are checked against the minimum rate
  (:mod:`glimpse.server.body_pace`); a body that falls behind raises
  :class:`~glimpse.errors.ClientTooSlow` to whoever reads it. Once the body is
  complete ``receive()`` is passed through untouched (a streaming response
  waits on it for a disconnect for as long as the download lasts).
- a response with a 5xx status carries ``Connection: close``: after a failure
  the server may not have read the whole request, and uvicorn drops the
  connection when the application raises after answering, so the client is
  told rather than finding its keep-alive connection gone.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glimpse.server.body_pace import BodyPace, PaceMeter


class EdgeGuard:
    """Paced request bodies and ``Connection: close`` on server errors, around ``app``."""

    def __init__(self, app: ASGIApp, pace: BodyPace) -> None:
        self.app = app
        self.pace = pace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pace = self.pace
        meter: PaceMeter | None = None
        body_over = False

        async def paced_receive() -> Message:
            nonlocal meter, body_over
            if body_over:
                return await receive()
            if meter is None:
                meter = PaceMeter(pace)
            try:
                async with asyncio.timeout(pace.idle_timeout):
                    message = await receive()
            except TimeoutError:
                raise pace.stalled() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_over = True
            else:
                meter.arrived(len(message.get("body", b"")))
            return message

        async def honest_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 500:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"connection" for name, _ in headers):
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, paced_receive, honest_send)
