"""The relay: publishes outbox messages in order and marks them sent once the broker confirms.

Any number of relays (worker processes, nodes) can run against one database:
each claims a batch (see :meth:`glimpse.db.outbox.OutboxRepository.claim`), publishes it in
order, marks what was confirmed as sent and gives the rest back. When the
broker is unreachable the messages simply stay in the outbox and the relay
tries again with a growing pause, so an outage delays notifications but
loses none.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Protocol

import anyio
import anyio.to_thread

from glimpse.clock import utcnow
from glimpse.domain.events import ClaimedMessage
from glimpse.notifications.publishers import Publisher

log = logging.getLogger("glimpse.notifications")

BATCH = 100
#: How long a claimed batch stays reserved for one relay if it stops without answering.
LEASE = dt.timedelta(seconds=120)
MAX_BACKOFF = 5.0
PRUNE_EVERY = 300.0


class Outbox(Protocol):
    """What the relay needs of the outbox (``services.outbox_messages``)."""

    def claim(self, relay_id: str, *, limit: int, lease: dt.timedelta) -> list[ClaimedMessage]: ...

    def mark_sent(self, relay_id: str, ids: Sequence[int]) -> None: ...

    def release(self, relay_id: str, ids: Sequence[int]) -> None: ...

    def prune(self, *, sent_before: dt.datetime) -> int: ...


class OutboxRelay:
    def __init__(self, outbox: Outbox, publisher: Publisher, *, poll_interval: float,
                 retention: dt.timedelta) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._poll_interval = poll_interval
        self._retention = retention
        self.relay_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def run(self) -> None:
        """Relay until cancelled."""
        backoff = self._poll_interval
        pruned = 0.0
        try:
            while True:
                try:
                    published = await self.relay_once()
                    backoff = self._poll_interval
                except Exception as exc:  # broker down, connection lost, confirm timed out, ...
                    log.warning("could not publish notifications (%s: %s); retrying in %.1f s",
                                exc.__class__.__name__, exc, backoff)
                    await self._publisher.close()
                    await anyio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                if time.monotonic() - pruned > PRUNE_EVERY:
                    await anyio.to_thread.run_sync(lambda: self._outbox.prune(sent_before=utcnow() - self._retention))
                    pruned = time.monotonic()
                if published < BATCH:
                    await anyio.sleep(self._poll_interval)
        finally:
            with anyio.CancelScope(shield=True):
                await self._publisher.close()

    async def relay_once(self) -> int:
        """Publish one batch; return how many messages the broker confirmed."""
        claimed = await anyio.to_thread.run_sync(
            lambda: self._outbox.claim(self.relay_id, limit=BATCH, lease=LEASE))
        sent: list[int] = []
        try:
            for message in claimed:
                await self._publisher.publish(message)
                sent.append(message.id)
        finally:
            rest = [m.id for m in claimed if m.id not in set(sent)]
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: self._outbox.mark_sent(self.relay_id, sent))
                await anyio.to_thread.run_sync(lambda: self._outbox.release(self.relay_id, rest))
        return len(sent)
