"""The ``p2p`` extension: cached images spread between streaming nodes over BitTorrent (see docs/p2p.md).

Needs the ``cache`` extension on the same node: the swarm is one of the
cache's fillers (``register_cache_fillers``), and the cache's valid files are
what a node seeds (``image_cached``/``image_uncached``). Clients never talk
BitTorrent; they download from any streaming node as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from glimpse.domain.images import Image
from glimpse.extensions.hookspecs import hookimpl
from glimpse.p2p.filler import SwarmFiller
from glimpse.p2p.node import P2PNode
from glimpse.services import Services

log = logging.getLogger(__name__)

NAME = "Peer-to-peer image spreading"
DESCRIPTION = ("Streaming nodes fill their caches from each other over BitTorrent (libtorrent), "
               "with the store as the last-resort seed.")
DOCS = "docs/p2p.md"

_node: P2PNode | None = None


def node_for(services: Services) -> P2PNode:
    """This process's node (made on first use; the libtorrent session starts later, on its own first use)."""
    global _node
    if _node is None:
        _node = P2PNode(services.swarm, services.settings)
    return _node


@hookimpl(trylast=True)
def register_cache_fillers(services: Services) -> Sequence[SwarmFiller]:
    return [SwarmFiller(node_for(services))]


@hookimpl(trylast=True)
def image_cached(image: Image, path: Path) -> None:
    if _node is not None:
        _node.seed(image, path)


@hookimpl(trylast=True)
def image_uncached(image_id: str) -> None:
    if _node is not None:
        _node.unseed(image_id)


@hookimpl(trylast=True)
def image_deleted(image: Image) -> None:
    if _node is not None:
        _node.unseed(image.id)
        _node.service.drop_pieces(image.id)


@hookimpl(trylast=True)
def register_background_tasks(services: Services) -> Sequence[Callable[[], Awaitable[None]]]:
    node = node_for(services)
    tasks: list[Callable[[], Awaitable[None]]] = [lambda: _heartbeat(node)]
    if services.settings.p2p_hash_active_images:
        tasks.append(lambda: _hash_active(node))
    return tasks


async def _heartbeat(node: P2PNode) -> None:
    """Keep this process registered and its IP filter current; leave the registry when stopped."""
    try:
        while True:
            try:
                await asyncio.to_thread(node.refresh)
                await asyncio.to_thread(node.service.forget_dead)
                await asyncio.to_thread(node.service.drop_deleted)
            except Exception:  # the database may be away for a moment
                log.warning("p2p: heartbeat failed", exc_info=True)
            await asyncio.sleep(node.settings.p2p_heartbeat_seconds)
    finally:
        await asyncio.to_thread(node.close)


async def _hash_active(node: P2PNode) -> None:
    """Compute piece tables of active images, one reader per image across all nodes (a database lease)."""
    settings = node.settings
    while True:
        try:
            for image_id in await asyncio.to_thread(node.service.unhashed, limit=10):
                done = await asyncio.to_thread(node.service.hash_from_store, image_id, holder=node.id,
                                               piece_size=settings.p2p_piece_size)
                if done:
                    log.info("p2p: piece table of image %s published (pid %d)", image_id, os.getpid())
        except Exception:
            log.warning("p2p: hashing active images failed", exc_info=True)
        await asyncio.sleep(max(settings.p2p_heartbeat_seconds, 1.0))
