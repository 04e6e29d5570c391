"""The RPC server: consumes requests from a queue, calls the service layer, replies.

Each request is answered on its ``reply_to`` queue with its ``correlation_id``.
Every rule (identity, policy, validation) is the service layer's, so a caller
on the bus gets exactly what an HTTP caller gets, errors included.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aio_pika
import anyio
import anyio.to_thread
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from glimpse.auth.noauth import HeaderAuthenticator
from glimpse.errors import GlimpseError, InvalidRequest
from glimpse.rpc.methods import METHODS
from glimpse.rpc.wire import CONTENT_TYPE, error_to_wire, identity_headers, request_id_of, to_wire
from glimpse.services import Services

log = logging.getLogger("glimpse.rpc")

#: Requests one server works on at once.
PREFETCH = 16


class RpcServer:
    def __init__(self, services: Services, url: str, queue: str) -> None:
        self._services = services
        self._authenticator = HeaderAuthenticator(services.policy)
        self._url = url
        self._queue = queue

    async def run(self) -> None:
        """Serve until cancelled; a lost connection raises (the node restarts the task)."""
        connection = await aio_pika.connect(self._url, timeout=10)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=PREFETCH)
            queue = await channel.declare_queue(self._queue, durable=False)
            log.info("serving RPC on queue %s", self._queue)
            async with queue.iterator() as requests:
                async with anyio.create_task_group() as handlers:
                    async for request in requests:
                        handlers.start_soon(self._answer, channel, request)
            raise ConnectionError("the RPC request queue was closed")
        finally:
            with anyio.CancelScope(shield=True):
                await connection.close()

    async def _answer(self, channel: AbstractChannel, request: AbstractIncomingMessage) -> None:
        async with request.process(requeue=False):
            reply = await self.handle(request.body)
            if request.reply_to:
                await channel.default_exchange.publish(
                    aio_pika.Message(json.dumps(reply).encode(), content_type=CONTENT_TYPE,
                                     correlation_id=request.correlation_id),
                    routing_key=request.reply_to)

    async def handle(self, body: bytes) -> dict[str, Any]:
        """The reply to one request body."""
        request_id: str | None = None
        try:
            try:
                request = json.loads(body)
            except ValueError as exc:
                raise InvalidRequest(f"An RPC request must be a JSON object: {exc}.") from None
            if not isinstance(request, dict):
                raise InvalidRequest("An RPC request must be a JSON object.")
            method = METHODS.get(str(request.get("method")))
            if method is None:
                raise InvalidRequest(f"Unknown RPC method {request.get('method')!r}; "
                                     f"known: {', '.join(sorted(METHODS))}.")
            request_id = request_id_of(request.get("context"))
            ctx = await self._authenticator.authenticate(identity_headers(request.get("context")), request_id)
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise InvalidRequest("The RPC 'args' must be an object.")
            result = await anyio.to_thread.run_sync(lambda: method(self._services, ctx, args))
            return {"result": to_wire(result)}
        except GlimpseError as exc:
            return {"error": error_to_wire(exc)}
        except Exception:
            log.exception("unexpected error answering an RPC request (request %s)", request_id)
            return {"error": {"type": "RemoteError",
                              "message": f"The server failed to handle this request; report request id "
                                         f"{request_id} to the operator."}}
