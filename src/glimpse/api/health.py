"""``/healthcheck``: is this node able to serve (database reachable, stores writable)?"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from glimpse.api.errors import negotiate
from glimpse.api.requests import services as services_of


async def healthcheck(request: Request) -> Response:
    services = services_of(request)
    report = await run_in_threadpool(services.health)
    healthy = all(state == "ok" for state in report.values())
    status = 200 if healthy else 503
    if negotiate(request.headers.get("accept")) == "application/json" or "detail" in request.query_params:
        return JSONResponse({"status": "ok" if healthy else "unhealthy", "checks": report}, status_code=status)
    return PlainTextResponse("OK" if healthy else "UNHEALTHY", status_code=status)
