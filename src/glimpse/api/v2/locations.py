"""``/v2/images/{id}/locations`` (Images API 2.17): add data already in a store, list where data is."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context, json_object
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.services.locations import parse_location


async def add(request: Request) -> Response:
    services = services_of(request)
    location = parse_location(await json_object(request, max_size=services.settings.max_json_body_size))
    await run_in_threadpool(services.locations.add, context(request), request.path_params["image_id"], location)
    return Response(status_code=202)


@bodiless
async def index(request: Request) -> Response:
    services = services_of(request)
    found = await run_in_threadpool(services.locations.list, context(request), request.path_params["image_id"])
    return JSONResponse(found)
