"""Glance's cache API (2.14+) for the cache of the node that answers.

``GET /v2/cache`` lists cached and queued images, ``PUT /v2/cache/{id}``
queues an active image for the prefetcher (202), ``DELETE /v2/cache/{id}``
drops it from cache and queue (204), ``DELETE /v2/cache`` clears what
``x-image-cache-clear-target`` names: ``cache``, ``queue`` or both (empty or
absent). Policies ``cache_list``, ``cache_image`` and ``cache_delete``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.extension_routes import context, expect_no_body
from glimpse.api.extension_routes import services as services_of
from glimpse.cache.images import ImageCache
from glimpse.cache.node import current
from glimpse.context import RequestContext
from glimpse.errors import InvalidRequest

CLEAR_TARGETS = ("cache", "queue", "both", "")


def _allowed(request: Request, rule: str, action: str) -> RequestContext:
    ctx = context(request)
    target = {"project_id": ctx.project_id} if ctx.project_id else {}
    services_of(request).policy.enforce(rule, ctx, target, f"You are not permitted to {action}.")
    return ctx


def _cache(request: Request) -> ImageCache:
    cache = current()
    if cache is None:
        raise HTTPException(503, "The image cache of this node is not open.")
    return cache


async def listing(request: Request) -> Response:
    _allowed(request, "cache_list", "list the image cache")
    cache = _cache(request)
    entries, queued = await run_in_threadpool(lambda: (cache.entries(), cache.index.queued()))
    return JSONResponse({
        "cached_images": [{"image_id": e.image_id, "hits": e.hits, "last_accessed": e.last_accessed,
                           "last_modified": e.cached_at, "size": e.size, "source": e.source} for e in entries],
        "queued_images": queued,
    })


async def queue(request: Request) -> Response:
    await expect_no_body(request)
    ctx = _allowed(request, "cache_image", "queue images for caching")
    cache = _cache(request)
    image_id = request.path_params["image_id"]
    image = await run_in_threadpool(services_of(request).images.get, ctx, image_id)
    if image.status.value != "active":
        raise InvalidRequest("Only images with status active can be targeted for queueing.")
    await run_in_threadpool(cache.queue, image_id)
    return Response(status_code=202)


async def delete_one(request: Request) -> Response:
    await expect_no_body(request)
    _allowed(request, "cache_delete", "delete images from the cache")
    cache = _cache(request)
    image_id = request.path_params["image_id"]
    await run_in_threadpool(cache.forget, image_id)
    return Response(status_code=204)


async def clear(request: Request) -> Response:
    await expect_no_body(request)
    target = request.headers.get("x-image-cache-clear-target", "").strip().lower()
    if target not in CLEAR_TARGETS:
        raise InvalidRequest("If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or 'both' "
                             "(or empty for both).")
    _allowed(request, "cache_delete", "clear the image cache")
    cache = _cache(request)
    if target in ("cache", "both", ""):
        await run_in_threadpool(cache.clear)
    if target in ("queue", "both", ""):
        await run_in_threadpool(cache.index.clear_queue)
    return Response(status_code=204)
