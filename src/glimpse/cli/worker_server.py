"""The uvicorn server of one worker process: balanced accepting and full garbage collections when idle."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

from glimpse.api.protocol import HttpProtocol
from glimpse.cli.balance import Acceptor, Share
from glimpse.cli.idle_gc import IdleCollector


class WorkerServer(uvicorn.Server):
    """uvicorn serving the given listening sockets through :class:`~glimpse.cli.balance.Acceptor` s
    (instead of ``create_server``) and running an :class:`~glimpse.cli.idle_gc.IdleCollector`."""

    def __init__(self, config: uvicorn.Config, share: Share, collector: IdleCollector) -> None:
        super().__init__(config)
        self._share = share
        self._collector = collector

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan, and no listener of uvicorn's own
        config = self.config
        loop = asyncio.get_running_loop()

        def new_protocol() -> HttpProtocol:
            return HttpProtocol(config=config, server_state=self.server_state, app_state=self.lifespan.state,
                                _loop=loop)

        acceptors: list[Any] = [Acceptor(sock, new_protocol, self._share, config.ssl) for sock in sockets or []]
        self.servers = acceptors  # uvicorn only closes its servers and waits for them
        self._collector.install()

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0:  # a tick is 0.1 s
            self._collector.tick(self.server_state.total_requests)
        return await super().on_tick(counter)
