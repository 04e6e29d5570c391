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

_SECRET = re.compile(r"secret|password|token|credential|access_key", re.IGNORECASE)


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
        if detail:
            entry["type"] = options["driver"]
            entry["weight"] = int(options.get("weight", 0))
            entry["properties"] = {
                k: v for k, v in options.items() if k not in ("driver", "description", "weight") and not _SECRET.search(k)
            }
        entries.append(entry)
    return entries


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
