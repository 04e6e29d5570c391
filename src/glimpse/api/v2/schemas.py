"""``/v2/schemas/*``: the schemas the service validates with, served as they are.

The image schemas add the catalog's typed properties the caller may see
(public namespaces and its own), so schema-driven clients learn them. They
vary with the caller, and with the catalog: caches keep them per identity
(``Vary``) and briefly. The other schemas change only with the code.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from glimpse.api import caching
from glimpse.api.requests import context
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.domain import metadef_schemas
from glimpse.domain.schemas import member_schema, members_schema, task_schema, tasks_schema

_METADEF_SCHEMAS = metadef_schemas.served()
#: Seconds caches may keep an image schema, which changes with the property catalog.
IMAGE_SCHEMA_MAX_AGE = 60
_IDENTITY_HEADERS = "X-Auth-Token, X-Project-Id, X-Tenant-Id, X-Roles"


async def _typed(request: Request) -> dict[str, dict[str, object]]:
    services = services_of(request)
    ctx = context(request)
    return await run_in_threadpool(services.catalog.advertised, ctx, services.schema.nullable_custom_names)


@bodiless
async def image(request: Request) -> Response:
    return _per_caller(request, services_of(request).schema.document(await _typed(request)))


@bodiless
async def images(request: Request) -> Response:
    return _per_caller(request, services_of(request).schema.collection_document(await _typed(request)))


@bodiless
async def member(request: Request) -> Response:
    return _static(request, member_schema())


@bodiless
async def members(request: Request) -> Response:
    return _static(request, members_schema())


@bodiless
async def task(request: Request) -> Response:
    return _static(request, task_schema())


@bodiless
async def tasks(request: Request) -> Response:
    return _static(request, tasks_schema())


@bodiless
async def metadef(request: Request) -> Response:
    """``/v2/schemas/metadefs/{name}``: namespace(s), object(s), property/ies, resource_type(s), tag(s)."""
    document = _METADEF_SCHEMAS.get(request.path_params["name"])
    if document is None:
        raise HTTPException(404)
    return _static(request, document)


def _static(request: Request, document: object) -> Response:
    return caching.json_response(document, request_headers=request.headers,
                                 cache_control=f"public, max-age={caching.SCHEMA_MAX_AGE}")


def _per_caller(request: Request, document: object) -> Response:
    return caching.json_response(document, request_headers=request.headers, headers={"Vary": _IDENTITY_HEADERS},
                                 cache_control=f"public, max-age={IMAGE_SCHEMA_MAX_AGE}")
