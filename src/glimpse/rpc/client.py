"""A small asyncio client for the RPC server: the internal API from anywhere on the bus.

::

    async with ImageRpcClient("amqp://guest:guest@127.0.0.1/", project_id="demo") as images:
        image = await images.create_image({"name": "cirros", "disk_format": "raw",
                                           "container_format": "bare"})
        await images.update_image(image["id"], [{"op": "replace", "path": "/name", "value": "c2"}])

Results are JSON objects (images and members as the service returns them,
without locations). Domain errors are raised as the same
:mod:`glimpse.errors` classes with the same messages; anything else the
server could not handle raises :class:`RemoteError`, and no answer within
``timeout`` seconds raises :class:`TimeoutError`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from types import TracebackType
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from glimpse.rpc.wire import CONTENT_TYPE, RemoteError, context_to_wire, error_from_wire

__all__ = ["ImageRpcClient", "RemoteError"]


class ImageRpcClient:
    def __init__(self, url: str, *, queue: str = "glimpse.rpc", project_id: str | None = None,
                 user_id: str | None = None, roles: list[str] | None = None, timeout: float = 30.0) -> None:
        self._url = url
        self._queue = queue
        self._context = context_to_wire(project_id=project_id, user_id=user_id, roles=roles)
        self._timeout = timeout
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._replies: AbstractQueue | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def __aenter__(self) -> ImageRpcClient:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def connect(self) -> None:
        self._connection = await aio_pika.connect(self._url, timeout=10)
        self._channel = await self._connection.channel()
        self._replies = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await self._replies.consume(self._on_reply, no_ack=True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._waiting.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(json.loads(message.body))

    async def call(self, method: str, **args: Any) -> Any:
        """Call ``method`` (``images.get``, ...) with ``args`` as this client's caller."""
        if self._channel is None or self._replies is None:
            raise RuntimeError("the client is not connected; use 'async with' or connect()")
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        body = json.dumps({"method": method, "context": self._context, "args": args}).encode()
        try:
            await self._channel.default_exchange.publish(
                aio_pika.Message(body, content_type=CONTENT_TYPE, correlation_id=correlation_id,
                                 reply_to=self._replies.name, expiration=self._timeout),
                routing_key=self._queue)
            reply = await asyncio.wait_for(future, self._timeout)
        finally:
            self._waiting.pop(correlation_id, None)
        if "error" in reply:
            raise error_from_wire(reply["error"])
        return reply.get("result")

    # -- images
    async def create_image(self, fields: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("images.create", fields=fields)
        return result

    async def get_image(self, image_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("images.get", image_id=image_id)
        return result

    async def list_images(self, **filters: Any) -> dict[str, Any]:
        """One page: ``{"images": [...], "next_marker": ...}``; filters as the HTTP query parameters."""
        result: dict[str, Any] = await self.call("images.list", filters=filters)
        return result

    async def update_image(self, image_id: str, patch: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply a JSON Patch (the v2.1 dialect of ``PATCH /v2/images/{id}``)."""
        result: dict[str, Any] = await self.call("images.update", image_id=image_id, patch=patch)
        return result

    async def delete_image(self, image_id: str) -> None:
        await self.call("images.delete", image_id=image_id)

    async def add_tag(self, image_id: str, tag: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("images.add_tag", image_id=image_id, tag=tag)
        return result

    async def remove_tag(self, image_id: str, tag: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("images.remove_tag", image_id=image_id, tag=tag)
        return result

    # -- members
    async def add_member(self, image_id: str, member_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("members.add", image_id=image_id, member_id=member_id)
        return result

    async def list_members(self, image_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.call("members.list", image_id=image_id)
        return result

    async def update_member(self, image_id: str, member_id: str, status: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("members.update", image_id=image_id, member_id=member_id,
                                                 status=status)
        return result

    async def delete_member(self, image_id: str, member_id: str) -> None:
        await self.call("members.delete", image_id=image_id, member_id=member_id)
