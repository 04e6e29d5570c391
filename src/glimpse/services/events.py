"""Describing changes as domain events, for the extensions that publish them."""

from __future__ import annotations

from typing import Any

from glimpse.context import RequestContext
from glimpse.domain.events import Actor, DomainEvent
from glimpse.domain.images import Image
from glimpse.domain.members import Member


def actor(ctx: RequestContext | None) -> Actor:
    """The part of the caller's identity events carry."""
    if ctx is None:
        return Actor()
    return Actor(project_id=ctx.project_id, user_id=ctx.user_id, request_id=ctx.request_id)


def image_event(name: str, ctx: RequestContext | None, image: Image, *, error: str | None = None,
                **details: Any) -> DomainEvent:
    return DomainEvent(name=name, image=image, actor=actor(ctx), error=error, details=details)


def member_event(name: str, ctx: RequestContext, image: Image, member: Member, **details: Any) -> DomainEvent:
    return DomainEvent(name=name, image=image, actor=actor(ctx), member=member, details=details)
