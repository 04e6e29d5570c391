"""The uvicorn server of one worker process: balanced accepting, full garbage collections when idle,
and a cache kept warm with the images sibling workers write.

Internals (uvicorn, checked by ``tests/server/test_contract.py``):
``Server.startup``/``shutdown`` with ``sockets``, ``on_tick``, ``servers``
(closed and awaited by uvicorn), ``server_state``, ``lifespan.state``,
``config.ssl``; the protocol's constructor.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import uvicorn

from glimpse.server.balance import Acceptor, Share
from glimpse.server.idle_gc import IdleCollector
from glimpse.server.protocol import HttpProtocol
from glimpse.server.sibling_writes import WriteFollower

log = logging.getLogger(__name__)

#: Images loaded ahead at the most per tick (0.1 s), the last of those read (each ring's newest come
#: last): a burst of writes by the siblings must not hold up this worker's requests; what is skipped
#: is loaded on its first read.
MOST_PER_TICK = 256


class LocalReads(Protocol):
    @property
    def inline(self) -> bool:
        """True when a read is local and never waits (SQLite): cheaper on the event loop than via a thread."""
        ...


class ImageCache(Protocol):
    """What a worker uses of the node's image cache (:class:`glimpse.db.images.ImageRepository`), handed
    to it by the composition root: the worker never holds the database or a repository otherwise."""

    @property
    def reader(self) -> LocalReads: ...

    def watch_writes(self, listener: Callable[[str], None]) -> None: ...

    def warm(self, image_ids: Sequence[str]) -> int: ...


class CacheFollower:
    """Loads into this worker's cache the images its sibling workers wrote since the last :meth:`follow`."""

    def __init__(self, writes: WriteFollower, cache: ImageCache) -> None:
        self._writes = writes
        self._cache = cache
        self._inline = cache.reader.inline  # SQLite: a local read, cheaper on the event loop than through a thread

    async def follow(self) -> int:
        """Load what the siblings wrote since the last call; how many images were loaded."""
        ids = self._writes.new_ids()[-MOST_PER_TICK:]
        if not ids:
            return 0
        try:
            if self._inline:
                return self._cache.warm(ids)
            return await asyncio.to_thread(self._cache.warm, ids)
        except Exception:  # only a head start: the first read loads what this could not
            log.warning("could not load %d images written by other workers", len(ids), exc_info=True)
            return 0


class WorkerServer(uvicorn.Server):
    """uvicorn serving the given listening sockets through :class:`~glimpse.server.balance.Acceptor` s
    (instead of ``create_server``), running an :class:`~glimpse.server.idle_gc.IdleCollector` and,
    given one, a :class:`CacheFollower`."""

    def __init__(self, config: uvicorn.Config, share: Share, collector: IdleCollector,
                 follower: CacheFollower | None = None) -> None:
        super().__init__(config)
        self._share = share
        self._collector = collector
        self._follower = follower

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan, and no listener of uvicorn's own
        config = self.config
        loop = asyncio.get_running_loop()

        protocol_class = cast(type[HttpProtocol], config.http_protocol_class)  # with the node's limits

        def new_protocol() -> HttpProtocol:
            return protocol_class(config=config, server_state=self.server_state, app_state=self.lifespan.state,
                                  _loop=loop)

        acceptors: list[Any] = [Acceptor(sock, new_protocol, self._share, config.ssl) for sock in sockets or []]
        self.servers = acceptors  # uvicorn only closes its servers and waits for them
        self._share.open()
        self._collector.install()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._share.close()
        await super().shutdown(sockets=sockets)

    async def on_tick(self, counter: int) -> bool:
        if self._follower is not None:  # a tick is 0.1 s
            await self._follower.follow()
        if counter % 10 == 0:
            self._collector.tick(self.server_state.total_requests)
        return await super().on_tick(counter)
