"""The built-in ``cache`` extension: hooks, routes and the keeper of a node's image cache.

Off by default; enable it on streaming nodes (``extensions = [..., "cache"]``).
Downloads of active images are served from the node-local cache
(:mod:`glimpse.cache.images`), Glance's cache API is served at ``/v2/cache``
(:mod:`glimpse.cache.api`), and a background task cleans, prunes and
prefetches. See ``docs/cache.md``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from glimpse.api.extension_routes import resource
from glimpse.cache import api
from glimpse.cache.images import ImageCache
from glimpse.cache.keeping import announce, clean, maintenance, prefetch
from glimpse.cache.node import current, open_cache
from glimpse.domain.images import ImageStatus
from glimpse.extensions.hookspecs import hookimpl
from glimpse.services.image_data import OpenedData

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from glimpse.context import RequestContext
    from glimpse.domain.images import Image
    from glimpse.services import Services
    from glimpse.settings import Settings

log = logging.getLogger(__name__)

NAME = "Image cache"
DESCRIPTION = ("A node-local cache of image data on streaming nodes, filled while misses are served, with "
               "Glance's cache API (/v2/cache).")
DOCS = "docs/cache.md"


@hookimpl(trylast=True)
def services_opened(services: Services) -> None:
    open_cache(services)


@hookimpl(trylast=True)
def register_routes(settings: Settings) -> Sequence[BaseRoute]:
    return [resource("/v2/cache", GET=api.listing, DELETE=api.clear),
            resource("/v2/cache/{image_id}", PUT=api.queue, DELETE=api.delete_one)]


@hookimpl(trylast=True)
def image_data_opening(ctx: RequestContext, image: Image, offset: int, length: int,
                       partial: bool) -> OpenedData | None:
    cache = current()
    if cache is None:
        return None
    try:
        return cache.open(image, offset, length, partial=partial)
    except (OSError, sqlite3.Error):  # a full disk, a locked index: the stores still serve
        log.exception("the image cache cannot serve image %s; serving it from the stores", image.id)
        return None


@hookimpl(trylast=True)
def image_deleted(ctx: RequestContext, image: Image) -> None:
    cache = current()
    if cache is not None:
        cache.forget(image.id)


@hookimpl(trylast=True)
def image_updated(ctx: RequestContext, before: Image, after: Image) -> None:
    cache = current()
    if cache is not None and after.status is not ImageStatus.ACTIVE:
        cache.drop(after.id, f"the image is {after.status.value}")


@hookimpl(trylast=True)
def register_background_tasks(services: Services) -> Sequence[Callable[[], Awaitable[None]]]:
    interval = services.settings.image_cache_interval

    async def keep_cache() -> None:
        cache = current()
        if cache is None:
            return
        try:
            await asyncio.to_thread(start, cache)
            while True:
                await _pause(cache, interval)
                await asyncio.to_thread(keep, cache)
        finally:
            cache.stop.set()

    return [keep_cache]


def start(cache: ImageCache) -> None:
    """At start-up: tidy the directory (one worker of the node), then announce the valid files (every worker)."""
    with maintenance(cache) as mine:
        if mine:
            clean(cache)
            cache.prune()
    announce(cache)


def keep(cache: ImageCache) -> None:
    """One round of the keeper: this worker's stalled fills stopped, cleaner and pruner (one worker of the
    node at a time), then the prefetcher."""
    cache.stop_stalled()
    with maintenance(cache) as mine:
        if mine:
            clean(cache)
            cache.prune()
    prefetch(cache)


async def _pause(cache: ImageCache, seconds: float) -> None:
    """Sleep ``seconds``, or less when an image is queued."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until and not cache.wake.is_set():
        await asyncio.sleep(min(0.2, seconds))
    cache.wake.clear()
