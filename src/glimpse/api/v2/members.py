"""``/v2/images/{id}/members``: sharing an image with other projects."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context, json_object
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.api.v2.views import member_view


async def create(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    if "member" not in body:
        raise HTTPException(400, "The request body must name the project to share with as 'member'.")
    member = await run_in_threadpool(
        services.members.add, context(request), request.path_params["image_id"], body["member"]
    )
    return JSONResponse(member_view(member))


@bodiless
async def index(request: Request) -> Response:
    services = services_of(request)
    members = await run_in_threadpool(services.members.list, context(request), request.path_params["image_id"])
    return JSONResponse({"members": [member_view(m) for m in members], "schema": "/v2/schemas/members"})


@bodiless
async def show(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    member = await run_in_threadpool(services.members.get, context(request), params["image_id"], params["member_id"])
    return JSONResponse(member_view(member))


async def update(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    if "status" not in body:
        raise HTTPException(400, "The request body must give the new member 'status'.")
    params = request.path_params
    member = await run_in_threadpool(
        services.members.update, context(request), params["image_id"], params["member_id"], body["status"]
    )
    return JSONResponse(member_view(member))


@bodiless
async def delete(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    await run_in_threadpool(services.members.delete, context(request), params["image_id"], params["member_id"])
    return Response(status_code=204)
