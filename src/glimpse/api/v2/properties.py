"""``/v2/images/{id}/properties[/{name}]``: one image property at a time, conditionally."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api import conditional
from glimpse.api.requests import context, json_object
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.domain.properties import PropertyRecord


def record_view(record: PropertyRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "value": record.value,
        "type": record.type,
        "namespace": record.namespace,
        "project_id": record.project_id,
        "visibility": record.visibility.value,
        "self": f"/v2/images/{record.image_id}/properties/{record.name}",
        "image": f"/v2/images/{record.image_id}",
    }


@bodiless
async def index(request: Request) -> Response:
    services = services_of(request)
    image, records = await run_in_threadpool(services.properties.list, context(request),
                                             request.path_params["image_id"])
    body = {"properties": [record_view(r) for r in records], "image": f"/v2/images/{image.id}"}
    return JSONResponse(body, headers={"ETag": conditional.image_etag(image)})


@bodiless
async def show(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    record = await run_in_threadpool(services.properties.get, context(request), params["image_id"], params["name"])
    return JSONResponse(record_view(record), headers={"ETag": conditional.property_etag(record)})


async def update(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    if "value" not in body:
        raise HTTPException(400, "The request body must give the property's 'value' "
                                 "(and optionally its 'visibility': public or private).")
    unknown = sorted(body.keys() - {"value", "visibility"})
    if unknown:
        raise HTTPException(400, f"Unknown key '{unknown[0]}': a property takes 'value' and 'visibility'.")
    visibility = body.get("visibility")
    if visibility is not None and not isinstance(visibility, str):
        raise HTTPException(400, "'visibility' must be 'public' or 'private'.")
    params = request.path_params
    record, created = await run_in_threadpool(
        lambda: services.properties.set(context(request), params["image_id"], params["name"], body["value"],
                                        visibility=visibility, precondition=conditional.precondition(request.headers)))
    return JSONResponse(record_view(record), status_code=201 if created else 200,
                        headers={"ETag": conditional.property_etag(record)})


@bodiless
async def delete(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    await run_in_threadpool(lambda: services.properties.delete(
        context(request), params["image_id"], params["name"], precondition=conditional.precondition(request.headers)))
    return Response(status_code=204)
