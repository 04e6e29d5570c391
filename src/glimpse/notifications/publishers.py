"""Where the relay sends notifications: RabbitMQ (oslo.messaging's wire format) or the log."""

from __future__ import annotations

import json
import logging
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractConnection

from glimpse.domain.events import ClaimedMessage
from glimpse.notifications.payloads import envelope

log = logging.getLogger("glimpse.notifications")

#: Seconds to wait for the broker to confirm one message before treating it as not sent.
CONFIRM_TIMEOUT = 10.0


class Publisher(Protocol):
    async def publish(self, message: ClaimedMessage) -> None:
        """Return once the message is safely handed over; raise if that is not certain."""

    async def close(self) -> None:
        """Drop any connection; the next :meth:`publish` opens a new one."""


class LogPublisher:
    """The embedded default without a broker: each notification is written to the log."""

    async def publish(self, message: ClaimedMessage) -> None:
        log.info("notification %s", json.dumps(envelope(message.body)))

    async def close(self) -> None:
        pass


class AmqpPublisher:
    """Publishes to a topic exchange as oslo.messaging's rabbit driver does.

    The routing key is ``<topic>.<priority>`` (``notifications.info``) for each
    configured topic, and, as oslo does, a queue of that name is declared and
    bound so that notifications wait for consumers that are not there yet. The
    channel uses publisher confirms: :meth:`publish` returns only after the
    broker has taken responsibility for the message.
    """

    def __init__(self, url: str, *, exchange: str, topics: list[str], durable: bool) -> None:
        self._url = url
        self._exchange_name = exchange
        self._topics = topics
        self._durable = durable
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._queues: set[str] = set()

    async def _ready(self) -> AbstractExchange:
        if self._exchange is None or self._channel is None or self._channel.is_closed:
            await self.close()
            connection = await aio_pika.connect(self._url, timeout=10)
            self._connection = connection
            self._channel = await connection.channel(publisher_confirms=True)
            self._exchange = await self._channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=self._durable)
        return self._exchange

    async def publish(self, message: ClaimedMessage) -> None:
        exchange = await self._ready()
        assert self._channel is not None
        body = json.dumps(envelope(message.body)).encode()
        for topic in self._topics:
            routing_key = f"{topic}.{message.priority.lower()}"
            if routing_key not in self._queues:
                queue = await self._channel.declare_queue(routing_key, durable=self._durable)
                await queue.bind(exchange, routing_key)
                self._queues.add(routing_key)
            await exchange.publish(
                aio_pika.Message(
                    body, content_type="application/json", content_encoding="utf-8",
                    message_id=message.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT if self._durable
                    else aio_pika.DeliveryMode.NOT_PERSISTENT,
                ),
                routing_key=routing_key, timeout=CONFIRM_TIMEOUT,
            )

    async def close(self) -> None:
        connection, self._connection, self._channel, self._exchange = self._connection, None, None, None
        self._queues.clear()
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # the connection is already broken; nothing more to release
                log.debug("closing a broken broker connection failed", exc_info=True)
