"""``/v2/info/*``: what this node offers (import methods, stores, usage)."""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.services import Services

#: Option names whose values are never shown, not even to administrators (keys, passwords, tokens).
_SECRET = re.compile(r"secret|passw|token|credential|key|auth|private|signature", re.IGNORECASE)
#: ``scheme://user:password@host``: the user information of a URL is never shown either.
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@bodiless
async def import_methods(request: Request) -> Response:
    return JSONResponse({
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": list(services_of(request).imports.methods),
        }
    })


def _store_entries(services: Services, *, detail: bool) -> list[dict[str, Any]]:
    entries = []
    for store_id, options in services.settings.stores.items():
        entry: dict[str, Any] = {"id": store_id}
        description = options.get("description")
        if description:
            entry["description"] = str(description)
        if store_id == services.stores.default:
            entry["default"] = "true"
        if store_id in services.stores.read_only:
            entry["read-only"] = "true"
        if detail:
            entry["type"] = options["driver"]
            entry["weight"] = int(options.get("weight", 0))
            entry["properties"] = _public(
                {k: v for k, v in options.items() if k not in ("driver", "description", "weight", "read_only")})
        entries.append(entry)
    return entries


def _public(options: dict[str, Any]) -> dict[str, Any]:
    """Store options without secrets: no secret-named option, no credentials inside URLs, at any depth."""
    shown: dict[str, Any] = {}
    for name, value in options.items():
        if _SECRET.search(name):
            continue
        if isinstance(value, dict):
            value = _public(value)
        elif isinstance(value, str):
            value = _USERINFO.sub("***@", value)
        elif isinstance(value, list):
            value = [_USERINFO.sub("***@", v) if isinstance(v, str) else v for v in value
                     if not isinstance(v, dict)]
        shown[name] = value
    return shown


@bodiless
async def stores(request: Request) -> Response:
    return JSONResponse({"stores": _store_entries(services_of(request), detail=False)})


@bodiless
async def stores_detail(request: Request) -> Response:
    services = services_of(request)
    services.policy.enforce("stores_info_detail", context(request), None,
                            "Store details are available to administrators and services only.")
    return JSONResponse({"stores": _store_entries(services, detail=True)})


@bodiless
async def usage(request: Request) -> Response:
    """Quota usage and limits of the caller's project (sizes in MiB, as Glance reports them)."""
    services = services_of(request)
    ctx = context(request)
    services.policy.enforce("get_usage", ctx, {"project_id": ctx.project_id},
                            "You are not permitted to see quota usage.")
    if ctx.project_id is None:
        return JSONResponse({"usage": {}})
    report = await run_in_threadpool(services.quotas.report, ctx.project_id)
    return JSONResponse({"usage": report})
