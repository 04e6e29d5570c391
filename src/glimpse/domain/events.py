"""Domain events (what changed) and outbox messages (what is to be published about it).

A use case describes each change it makes as :class:`DomainEvent` values; plugins
turn them into :class:`OutboxMessage` rows, which the repository writes in the
same database transaction as the change, so an event exists exactly when its
change was committed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from glimpse.domain.images import Image
from glimpse.domain.members import Member
from glimpse.domain.templates import Template


@dataclass(frozen=True)
class Actor:
    """Who caused an event (the caller's identity, without roles)."""

    project_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class DomainEvent:
    """One thing that happened to an image or its members.

    ``name`` uses the event types OpenStack consumers know: ``image.create``,
    ``image.update``, ``image.prepare``, ``image.upload``, ``image.activate``,
    ``image.delete``, ``image.send``, ``image.member.create`` / ``.update`` /
    ``.delete``. ``error`` is set for a failure (``image.upload`` that failed,
    ``image.send`` that stopped early); ``details`` carries event-specific
    values (``bytes_sent``, ``store``, ``deleted_at``).
    """

    name: str
    image: Image
    actor: Actor = field(default_factory=Actor)
    member: Member | None = None
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Events with the same key are published in the order they were recorded."""
        return self.image.id


@dataclass(frozen=True)
class TemplateEvent:
    """One thing that happened to a server template: ``template.create``, ``.update`` or ``.delete``.

    Carries no parameter values: rendering is not an event, so secrets never reach one.
    """

    name: str
    template: Template
    actor: Actor = field(default_factory=Actor)

    @property
    def key(self) -> str:
        return self.template.id


@dataclass(frozen=True)
class OutboxMessage:
    """A message waiting to be published, written with the change it reports.

    ``body`` is the complete message (JSON-serialisable); ``message_id`` is its
    idempotency key, unchanged however often a relay has to publish it again.
    """

    event_type: str
    priority: str
    key: str
    body: Mapping[str, Any]
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox row a relay has claimed and must publish, then mark sent or release."""

    id: int
    message_id: str
    ordering_key: str
    event_type: str
    priority: str
    body: dict[str, Any]
