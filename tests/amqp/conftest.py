"""The RabbitMQ server on this machine, and a test consumer. Skipped with the reason when unreachable."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import pytest
import sqlalchemy as sa

AMQP_URL = os.environ.get("GLIMPSE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def _ping(url: str) -> None:
    connection = await aio_pika.connect(url, timeout=5)
    await connection.close()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    if not AMQP_URL:
        pytest.skip("AMQP tests disabled: GLIMPSE_TEST_AMQP_URL is empty")
    try:
        asyncio.run(_ping(AMQP_URL))
    except Exception as exc:  # any connection problem means: no broker here
        pytest.skip(f"RabbitMQ not reachable at {AMQP_URL} ({exc.__class__.__name__}: {exc}); "
                    "set GLIMPSE_TEST_AMQP_URL to a broker URL to run these tests")
    return AMQP_URL


@dataclass
class Received:
    routing_key: str
    properties: dict[str, Any]
    envelope: dict[str, Any]

    @property
    def message(self) -> dict[str, Any]:
        inner: dict[str, Any] = json.loads(self.envelope["oslo.message"])
        return inner


class Consumer:
    """A durable queue bound to a test exchange: everything published there waits in it."""

    def __init__(self, url: str) -> None:
        self.url = url
        tag = uuid.uuid4().hex[:12]
        self.exchange = f"glimpse-test-{tag}"
        self.topic = f"glimpse-test-{tag}"
        self.queue = f"glimpse-test-{tag}-consumer"

    def settings_env(self) -> dict[str, str]:
        return {"GLIMPSE_AMQP_URL": self.url, "GLIMPSE_NOTIFICATION_EXCHANGE": self.exchange,
                "GLIMPSE_NOTIFICATION_TOPICS": json.dumps([self.topic]), "GLIMPSE_OUTBOX_POLL_INTERVAL": "0.1"}

    async def _setup(self) -> None:
        connection = await aio_pika.connect(self.url)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(self.queue, durable=True)
        await queue.bind(exchange, "#")
        await connection.close()

    async def _drain(self) -> list[Received]:
        connection = await aio_pika.connect(self.url)
        channel = await connection.channel()
        queue = await channel.declare_queue(self.queue, durable=True)
        received = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            properties = {"content_type": message.content_type, "message_id": message.message_id,
                          "delivery_mode": int(message.delivery_mode or 0)}
            received.append(Received(message.routing_key or "", properties, json.loads(message.body)))
        await connection.close()
        return received

    async def _teardown(self) -> None:
        connection = await aio_pika.connect(self.url)
        channel = await connection.channel()
        for name in (self.queue, f"{self.topic}.info", f"{self.topic}.error"):
            await channel.queue_delete(name)
        await channel.exchange_delete(self.exchange)
        await connection.close()

    def setup(self) -> None:
        asyncio.run(self._setup())

    def drain(self) -> list[Received]:
        return asyncio.run(self._drain())

    def teardown(self) -> None:
        asyncio.run(self._teardown())


@pytest.fixture
def consumer(amqp_url: str) -> Iterator[Consumer]:
    consumer = Consumer(amqp_url)
    consumer.setup()
    yield consumer
    consumer.teardown()


def outbox_unsent(database_url: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar_one())
    finally:
        engine.dispose()


def wait_for_event(database_url: str, event_type: str, image_id: str, timeout: float = 30.0) -> None:
    """Wait until ``event_type`` for ``image_id`` is in the outbox: ``image.send`` is recorded when the download's
    stream has ended, which can be after the client holds every byte and sends its next request."""
    engine = sa.create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                found = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE event_type = :event "
                                             "AND ordering_key = :image"),
                                     {"event": event_type, "image": image_id}).scalar_one()
            if found:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event_type} for image {image_id} in the outbox after {timeout} s")
            time.sleep(0.05)
    finally:
        engine.dispose()


def wait_until_sent(database_url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while outbox_unsent(database_url):
        if time.monotonic() > deadline:
            raise AssertionError(f"{outbox_unsent(database_url)} notifications still unsent after {timeout} s")
        time.sleep(0.2)


def rabbitmqctl() -> str:
    path = shutil.which("rabbitmqctl")
    if path is None:
        pytest.skip("rabbitmqctl is not installed here, so the broker cannot be stopped for the outage test")
    return path
