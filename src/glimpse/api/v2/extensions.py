"""``/v2/extensions``: the extensions enabled on this node."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.api.urls import base_url
from glimpse.extensions.manager import ExtensionInfo


def extension_view(info: ExtensionInfo, root: str) -> dict[str, Any]:
    return {
        "alias": info.alias,
        "name": info.name,
        "description": info.description,
        "version": info.version,
        "builtin": info.builtin,
        "adds": {"routes": info.routes, "hooks": info.hooks},
        "links": [{"rel": "self", "href": f"{root}/v2/extensions/{info.alias}"}, *info.links],
    }


@bodiless
async def index(request: Request) -> Response:
    services = services_of(request)
    root = base_url(request)
    return JSONResponse({"extensions": [extension_view(info, root) for info in services.extensions.enabled]})


@bodiless
async def show(request: Request) -> Response:
    services = services_of(request)
    alias = request.path_params["alias"]
    info = services.extensions.infos.get(alias)
    if info is None:
        raise HTTPException(404, f"No extension '{alias}' is enabled on this node; GET /v2/extensions lists those that are.")
    return JSONResponse({"extension": extension_view(info, base_url(request))})
