"""The outermost ASGI layer: measures and logs every request, and answers ``/metrics``.

For each HTTP request it sets the request-id context variable (for log lines
of the service layer and of import tasks), counts the body bytes in and out
(including bodies a handler takes straight from the socket and responses sent
with ``sendfile``, which bypass ASGI messages), records the request in the
metrics by *route template* (``/v2/images/{image_id}``, never the raw path),
and writes one access-log line: request id, method, route, path, status,
duration, bytes in/out, project and user.

The route is reported by whichever layer dispatched the request
(:func:`mark_route`, called by :func:`glimpse.api.routing.resource` and by the
image-show shortcut); requests no route matched count as ``unmatched``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glimpse.observability import metrics as _metrics
from glimpse.observability.metrics import CONTENT_TYPE, UNMATCHED

access_log = logging.getLogger("glimpse.access")

_ROUTE_KEY = "route"
#: Paths whose bodies are image data, and the direction that counts as a transfer in flight.
_DATA_PATH = re.compile(r"^/v2(?:\.\d+)?/images/[^/]+/(file|stage)$")
_SOCKET_BODY = "glimpse.http.request.socket_body"
METRICS_PATH = "/metrics"
#: Seconds a worker keeps requests in memory before adding them to the shared metrics.
FLUSH_INTERVAL = 1.0


def mark_route(scope: Scope, template: str) -> None:
    """Report the route template that serves this request (for metrics and the access log)."""
    state = scope.get("state")
    if state is not None:
        state[_ROUTE_KEY] = template


class ObservedApp:
    """Wraps the node's application with metrics, the access log and the ``/metrics`` endpoint.

    ``metrics_access`` says who may scrape: ``loopback`` (clients on this host,
    no credentials needed; anyone else is passed on to the authenticated route),
    ``admin`` (only through the authenticated route) or ``off``.
    """

    def __init__(self, app: ASGIApp, *, metrics_access: str,
                 scrape: Callable[[], bytes], access_log_enabled: bool = True) -> None:
        self.app = app
        self.metrics_access = metrics_access
        self.scrape = scrape
        self.log_enabled = access_log_enabled
        self.metrics = _metrics.metrics()
        self._flush_due = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH and self.metrics_access == "loopback" and _is_loopback(scope):
            await self._serve_metrics(send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        counts = _Counts()
        direction = None
        if _DATA_PATH.match(scope["path"]):
            direction = "download" if scope["method"] in ("GET", "HEAD") else "upload"
            self.metrics.in_flight.labels(direction).inc()
            _watch_socket_body(scope, counts)

        def finish() -> None:
            # Before the last bytes leave: whoever has the whole response can already read its log line.
            counts.finished = True
            if direction is not None:
                self.metrics.in_flight.labels(direction).dec()
            counts.received += counts.socket_bytes()
            elapsed = time.perf_counter() - started
            route = state.get(_ROUTE_KEY, UNMATCHED)
            self.metrics.request(route, scope["method"], counts.status, elapsed, counts.received, counts.sent)
            if not self._flush_due:
                self._flush_due = True
                asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self._flush)
            if self.log_enabled and access_log.isEnabledFor(logging.INFO):
                self._log(scope, state, route, counts, elapsed)

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts.received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                counts.sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                counts.status = message["status"]
                counts.headers = message.get("headers", ())
            elif kind == "http.response.zerocopysend":
                count = message.get("count")
                counts.sent += int(count) if count is not None else max(0, counts.length() - counts.sent)
            if kind != "http.response.start" and not message.get("more_body", False) and not counts.finished:
                finish()
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        except BaseException:
            counts.status = counts.status or 500
            raise
        finally:
            if not counts.finished:  # no complete response: an error, or the client went away
                finish()

    def _log(self, scope: Scope, state: dict[str, Any], route: str, counts: _Counts, elapsed: float) -> None:
        context = state.get("context")
        project = getattr(context, "project_id", None) or "-"
        user = getattr(context, "user_id", None) or "-"
        request_id = state.get("request_id", "-")
        client = scope.get("client")
        address = client[0] if client else "-"
        fields = {"request_id": request_id, "method": scope["method"], "route": route, "path": scope["path"],
                  "status": counts.status, "duration_ms": round(elapsed * 1000, 3),
                  "bytes_in": counts.received, "bytes_out": counts.sent, "project": project, "user": user,
                  "client": address}
        query = scope.get("query_string", b"")
        target = scope["path"] + ("?" + query.decode("latin-1") if query else "")
        access_log.info('%s "%s %s HTTP/%s" %d route=%s %.1fms in=%d out=%d project=%s user=%s', address,
                        scope["method"], target, scope.get("http_version", "1.1"), counts.status, route,
                        elapsed * 1000, counts.received, counts.sent, project, user,
                        extra={"request_id": request_id, "fields": fields})

    def _flush(self) -> None:
        self._flush_due = False
        self.metrics.flush()

    async def _serve_metrics(self, send: Send) -> None:
        self.metrics.flush()  # this worker's latest requests are in the answer
        body = await _in_thread(self.scrape)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _Counts:
    __slots__ = ("received", "sent", "status", "headers", "socket_body", "socket_length", "finished")

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self.status = 0
        self.headers: Any = ()
        self.socket_body: Any = None
        self.socket_length = 0
        self.finished = False

    def length(self) -> int:
        """The response's Content-Length (0 without one)."""
        for name, value in self.headers:
            if name.lower() == b"content-length":
                return int(value)
        return 0

    def socket_bytes(self) -> int:
        """Body bytes a handler read straight from the socket."""
        if self.socket_body is None:
            return 0
        return max(0, self.socket_length - int(self.socket_body.remaining))


def _watch_socket_body(scope: Scope, counts: _Counts) -> None:
    """Count the bytes of a body taken from the socket (they never pass through ``receive``)."""
    offer = scope.get("extensions", {}).get(_SOCKET_BODY)
    if not offer:
        return
    take: Callable[[], Awaitable[Any]] = offer["take"]
    length = 0
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            length = int(value)

    async def counted_take() -> Any:
        body = await take()
        if body is not None:
            counts.socket_body = body
            counts.socket_length = length  # nothing was received before a body can be taken
        return body

    offer["take"] = counted_take


def _is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def _in_thread(function: Callable[[], bytes]) -> bytes:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function)
