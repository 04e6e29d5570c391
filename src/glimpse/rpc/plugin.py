"""The built-in ``rpc`` extension: serves the internal API over AMQP on ``rpc_queue``.

Needs ``amqp_url``; without it the extension logs a warning and serves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from glimpse.extensions.hookspecs import hookimpl

if TYPE_CHECKING:
    from glimpse.services import Services

log = logging.getLogger("glimpse.rpc")

NAME = "AMQP RPC"
DESCRIPTION = "Serves the image and member service calls over AMQP request/reply, with the same rules and errors."
DOCS = "docs/amqp.md#rpc"


@hookimpl(trylast=True)
def register_background_tasks(services: Services) -> Sequence[Callable[[], Awaitable[None]]]:
    from glimpse.rpc.server import RpcServer

    settings = services.settings
    if not settings.amqp_url:
        log.warning("the rpc extension is enabled but amqp_url is not set; not serving RPC")
        return []
    return [RpcServer(services, settings.amqp_url, settings.rpc_queue).run]
