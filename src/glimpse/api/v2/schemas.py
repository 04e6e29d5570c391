"""``/v2/schemas/*``: the schemas the service validates with, served as they are."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from glimpse.api import caching
from glimpse.api.routing import bodiless
from glimpse.domain.schemas import member_schema, members_schema
from glimpse.services import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@bodiless
async def image(request: Request) -> Response:
    return _cacheable(request, _services(request).schema.document())


@bodiless
async def images(request: Request) -> Response:
    return _cacheable(request, _services(request).schema.collection_document())


@bodiless
async def member(request: Request) -> Response:
    return _cacheable(request, member_schema())


@bodiless
async def members(request: Request) -> Response:
    return _cacheable(request, members_schema())


def _cacheable(request: Request, document: object) -> Response:
    # A schema changes only with the configuration: caches may keep it for a while.
    return caching.json_response(document, request_headers=request.headers,
                                 cache_control=f"public, max-age={caching.SCHEMA_MAX_AGE}")
