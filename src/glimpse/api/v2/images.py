"""``/v2/images``: create, list, show, update, delete, (de)activate, tags."""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from glimpse.api import blocking, caching
from glimpse.api.requests import context, json_body, json_object, media_type
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.api.urls import base_url
from glimpse.api.v2.image_bodies import ImageBodies
from glimpse.api.v2.views import image_view
from glimpse.domain.images import Image
from glimpse.domain.patch import (
    MEDIA_TYPE_V20,
    MEDIA_TYPE_V21,
    MEDIA_TYPES,
    Dialect,
    parse_patch,
)
from glimpse.domain.queries import parse_image_query
from glimpse.settings import query_limits
from glimpse.services import Services


async def create(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    image = await run_in_threadpool(services.images.create, context(request), body)
    headers = {"Location": f"{base_url(request)}/v2/images/{image.id}"}
    if services.imports.methods:
        headers["OpenStack-image-import-methods"] = ",".join(services.imports.methods)
    if services.stores.multiple:
        headers["OpenStack-image-store-ids"] = ",".join(services.stores.writable_ids)
    return caching.json_response(_view(services, image), status_code=201, headers=headers,
                                 etag=caching.image_etag(image))


def _view(services: Services, image: Image) -> dict[str, object]:
    return image_view(image, services.schema, multi_store=services.stores.multiple)


@bodiless
async def index(request: Request) -> Response:
    services = services_of(request)
    pairs = list(request.query_params.multi_items())
    query = parse_image_query(pairs, **query_limits(services.settings))
    page = await blocking.read(services, services.images.list, context(request), query)
    unmarked = [(k, v) for k, v in pairs if k != "marker"]
    # {"images": [...], "first": ..., "schema": ..., "next": ...}, with each image's encoded view reused
    first = "/v2/images" + (f"?{urlencode(unmarked)}" if unmarked else "")
    parts = [b'{"images":', _bodies(request).encoded_list(page.images), b',"first":', caching.encode_json(first),
             b',"schema":"/v2/schemas/images"']
    if page.next_marker:
        parts += [b',"next":', caching.encode_json("/v2/images?" + urlencode([*unmarked, ("marker", page.next_marker)]))]
    parts.append(b"}")
    return caching.encoded_json_response(b"".join(parts), request_headers=request.headers)


def _bodies(request: Request) -> ImageBodies:
    bodies: ImageBodies = request.app.state.image_bodies
    return bodies


@bodiless
async def show(request: Request) -> Response:
    services = services_of(request)
    image = await blocking.read(services, services.images.get, context(request), request.path_params["image_id"])
    etag = caching.image_etag(image)
    if caching.none_match(request.headers, etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    return caching.encoded_json_response(_bodies(request).encoded(image), etag=etag)


async def update(request: Request) -> Response:
    services = services_of(request)
    kind = media_type(request)
    if kind not in MEDIA_TYPES:
        raise HTTPException(
            415,
            f"Unsupported content type '{kind or 'none'}' for PATCH; send {MEDIA_TYPE_V21}.",
            headers={"Accept-Patch": ", ".join(MEDIA_TYPES)},
        )
    document = await json_body(request, max_size=services.settings.max_json_body_size, accepted=MEDIA_TYPES)
    dialect = Dialect.V20 if kind == MEDIA_TYPE_V20 else Dialect.V21
    operations = parse_patch(document, dialect)
    image = await run_in_threadpool(
        functools.partial(services.images.update, expected_revisions=caching.expected_revisions(request.headers)),
        context(request), request.path_params["image_id"], operations, dialect,
    )
    return caching.json_response(_view(services, image), etag=caching.image_etag(image))


@bodiless
async def delete(request: Request) -> Response:
    await run_in_threadpool(
        functools.partial(services_of(request).images.delete, expected_revisions=caching.expected_revisions(request.headers)),
        context(request), request.path_params["image_id"],
    )
    return Response(status_code=204)


@bodiless
async def deactivate(request: Request) -> Response:
    services = services_of(request)
    await run_in_threadpool(services.images.deactivate, context(request), request.path_params["image_id"])
    return Response(status_code=204)


@bodiless
async def reactivate(request: Request) -> Response:
    services = services_of(request)
    await run_in_threadpool(services.images.reactivate, context(request), request.path_params["image_id"])
    return Response(status_code=204)


@bodiless
async def add_tag(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    await run_in_threadpool(services.images.add_tag, context(request), params["image_id"], params["tag"])
    return Response(status_code=204)


@bodiless
async def remove_tag(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    await run_in_threadpool(services.images.remove_tag, context(request), params["image_id"], params["tag"])
    return Response(status_code=204)
