"""``/v2/schemas/*``: the schemas the service validates with, served as they are."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.routing import bodiless
from glimpse.domain.schemas import member_schema, members_schema
from glimpse.services import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@bodiless
async def image(request: Request) -> Response:
    return JSONResponse(_services(request).schema.document())


@bodiless
async def images(request: Request) -> Response:
    return JSONResponse(_services(request).schema.collection_document())


@bodiless
async def member(request: Request) -> Response:
    return JSONResponse(member_schema())


@bodiless
async def members(request: Request) -> Response:
    return JSONResponse(members_schema())
