"""``/healthcheck``: is this node ready to serve? Cheap and public; the detail only for local callers.

``GET /healthcheck`` answers 200 ``OK`` or 503 ``UNHEALTHY`` (``Retry-After``
set), JSON ``{"status": ...}`` for JSON clients, and names no part: anyone can
call it. ``GET /healthcheck?detail`` adds each part's state
(:mod:`glimpse.services.health`: database, stores and their free space,
broker, identity service) and is served only to callers on the node itself
(a loopback address, with no ``Forwarded``/``X-Forwarded-For`` header: a
proxy on the node relays strangers from there too), where operators and
probes run; others get 403.
"""

from __future__ import annotations

import ipaddress

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from glimpse.api.errors import RETRY_AFTER, error_response, negotiate
from glimpse.api.requests import services as services_of


async def healthcheck(request: Request) -> Response:
    detail = "detail" in request.query_params
    if detail and not _local(request):
        return error_response(request, 403, "The detailed health view is served only to callers on this node "
                                            "(a loopback address); /healthcheck without 'detail' is public.")
    parts = await run_in_threadpool(services_of(request).health_checks().run)
    healthy = all(part.ok for part in parts)
    status = 200 if healthy else 503
    headers = None if healthy else {"Retry-After": str(RETRY_AFTER)}
    word = "ok" if healthy else "unhealthy"
    if detail:
        checks = {part.name: {"ok": part.ok, "detail": part.detail} for part in parts}
        return JSONResponse({"status": word, "checks": checks}, status_code=status, headers=headers)
    if negotiate(request.headers.get("accept")) == "application/json":
        return JSONResponse({"status": word}, status_code=status, headers=headers)
    return PlainTextResponse(word.upper(), status_code=status, headers=headers)


def _local(request: Request) -> bool:
    """A caller on this node itself, not a client relayed by a proxy running here."""
    if request.client is None or "forwarded" in request.headers or "x-forwarded-for" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False
