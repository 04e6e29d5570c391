"""Finding images as a given caller sees them, and changing them without lost updates."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.images import ImageRepository
from glimpse.db.transactions import TransactionGuard
from glimpse.db.members import MemberRepository
from glimpse.domain.events import DomainEvent, OutboxMessage
from glimpse.domain.images import (
    Image,
    ImageStatus,
    Visibility,
    check_transition,
    is_visible_to,
    sees_private_properties,
)
from glimpse.errors import Forbidden, ImageNotFound, ImageStatusConflict, PreconditionFailed
from glimpse.extensions.manager import Extensions
from glimpse.lru import LruCache
from glimpse.policy import Policy
from glimpse.policy.properties import PropertyProtections
from glimpse.services.events import image_event

#: How often a change is re-read and re-applied after losing a race.
_MAX_ATTEMPTS = 20
#: ``get_image`` decisions each process remembers (see :meth:`ImageAccess.is_visible`).
DECISIONS_CACHE_SIZE = 16384

#: Given the image before and after a change, what must hold in the same transaction.
GuardFor = Callable[[Image, Image], TransactionGuard | None]


def normalize_image_id(image_id: str) -> str | None:
    """The canonical (lowercase, dashed) form of a UUID string, or ``None`` if it is not one."""
    if len(image_id) != 36:
        return None
    try:
        return str(uuid.UUID(image_id))
    except ValueError:
        return None


class ImageAccess:
    """Image lookups that apply visibility and policy, and compare-and-swap changes."""

    def __init__(self, images: ImageRepository, members: MemberRepository, policy: Policy,
                 protections: PropertyProtections | None = None, *, extensions: Extensions) -> None:
        self.images = images
        self.members = members
        self.policy = policy
        self.protections = protections or PropertyProtections.disabled()
        self.extensions = extensions
        self._decisions: LruCache[tuple[object, ...], bool] = LruCache(DECISIONS_CACHE_SIZE)

    def is_member(self, ctx: RequestContext, image: Image) -> bool:
        """Is the caller's project a member (any status) of this shared image?"""
        return (
            image.visibility is Visibility.SHARED
            and ctx.project_id is not None
            and image.owner != ctx.project_id
            and self.members.get(image.id, ctx.project_id) is not None
        )

    def target(self, ctx: RequestContext, image: Image, *, member: bool | None = None) -> dict[str, Any]:
        """What policy rules see of an image (Glance's image target)."""
        if member is None:
            member = self.is_member(ctx, image)
        return {
            **image.properties,
            "id": image.id,
            "name": image.name,
            "status": image.status.value,
            "project_id": image.owner,
            "owner": image.owner,
            "visibility": image.visibility.value,
            "protected": image.protected,
            "member_id": ctx.project_id if member else None,
        }

    def is_visible(self, ctx: RequestContext, image: Image, *, member: bool | None = None) -> bool:
        """Glance's visibility rule and the ``get_image`` policy; ``member`` saves a lookup if known.

        ``image`` is as stored, so that its ``(id, revision, created_at)`` names its
        state: the policy's answer depends only on that, the caller's credentials and
        ``member``, and is remembered for them (the rules never change in a process).
        """
        if image.status is ImageStatus.PENDING_DELETE:
            return False  # deleted; only the scrubber and an operator's restore reach it
        if member is None:
            member = self.is_member(ctx, image)
        if not is_visible_to(image, ctx.project_id, is_admin=ctx.is_admin, is_member=member):
            return False
        key = (ctx.project_id, ctx.user_id, ctx.roles, ctx.is_admin, image.id, image.revision, image.created_at,
               member)
        decided = self._decisions.get(key)
        if decided is None:
            decided = self.policy.allowed("get_image", ctx, self.target(ctx, image, member=member))
            self._decisions.put(key, decided)
        return decided

    def find(self, ctx: RequestContext, image_id: str) -> Image:
        """The image if it exists and the caller may see it; else :class:`ImageNotFound`."""
        canonical = normalize_image_id(image_id)
        image = self.images.get(canonical) if canonical else None
        if image is None or not self.is_visible(ctx, image):
            raise ImageNotFound(image_id)
        return image

    def find_for(self, ctx: RequestContext, image_id: str, rule: str, action: str) -> Image:
        """Like :meth:`find`, then :class:`Forbidden` unless policy ``rule`` allows ``action``."""
        image = self.find(ctx, image_id)
        if not self.policy.allowed(rule, ctx, self.target(ctx, image)):
            raise Forbidden(f"You are not permitted to {action} image {image.id}.")
        return image

    def present(self, ctx: RequestContext, image: Image) -> Image:
        """The image as ``ctx`` may see it: private properties of another project's image, and
        protected properties it may not read, are left out."""
        hidden = self.hidden_properties(ctx, image)
        if not hidden and not self.protections.enabled:
            return image
        properties = {k: v for k, v in image.properties.items() if k not in hidden}
        properties = self.protections.readable(ctx, properties)
        return dataclasses.replace(image, properties=properties,
                                   property_info={k: v for k, v in image.property_info.items() if k in properties})

    def hidden_properties(self, ctx: RequestContext, image: Image) -> frozenset[str]:
        """The private properties ``ctx`` may not see on this image."""
        if sees_private_properties(image, ctx.project_id, is_admin=ctx.is_admin):
            return frozenset()
        return image.private_names()

    def change_metadata(self, ctx: RequestContext, image_id: str, apply: Callable[[Image], Image], *,
                        expected_revisions: Collection[int] | None = None) -> Image:
        """A metadata change: ``apply``, then the ``image_updating`` hooks, stored with an
        ``image.update`` event; ``image_updated`` fires once it is stored. ``expected_revisions``
        as for :meth:`change`."""
        hooks = self.extensions.hook
        seen: list[Image] = []

        def changed(current: Image) -> Image:
            after = apply(current)
            if after != current:
                for replacement in hooks.image_updating(ctx=ctx, before=current, after=after):
                    after = replacement
            seen[:] = [current]
            return after

        stored = self.change(image_id, changed, expected_revisions=expected_revisions,
                             events=lambda before, after: [image_event("image.update", ctx, after)])
        if stored.revision != seen[0].revision:
            self.extensions.observe(hooks.image_updated, ctx=ctx, before=seen[0], after=stored)
        return stored

    def change(self, image_id: str, apply: Callable[[Image], Image], *, guard: GuardFor | None = None,
               events: Callable[[Image, Image], Sequence[DomainEvent]] | None = None,
               expected_revisions: Collection[int] | None = None) -> Image:
        """Apply ``apply`` to the current image and store the result atomically.

        ``apply`` gets the freshest image and returns the changed one (or the
        same object for no change); it may raise to refuse. ``guard`` may add a
        check (a quota) that runs in the same transaction as the write. When
        another writer got there first, the image is read again and ``apply``
        runs again. ``events`` describes a stored change (image before, image
        as stored); the enabled extensions' outbox messages for them are
        written in the change's transaction. No change, no events. A change of
        status the domain's table does not allow raises
        :class:`~glimpse.errors.InvalidStatusTransition`. With
        ``expected_revisions`` (``If-Match``) the change applies only to an image
        still at one of those revisions; otherwise :class:`PreconditionFailed`.
        """
        for _ in range(_MAX_ATTEMPTS):
            current = self.images.get(image_id)
            if current is None:
                raise ImageNotFound(image_id)
            if expected_revisions is not None and current.revision not in expected_revisions:
                raise PreconditionFailed(
                    f"Image {image_id} has changed since the version named in If-Match; read it again."
                )
            changed = apply(current)
            if changed == current:
                return current
            check_transition(current.status, changed.status, current.id)  # the one status machine
            stored = self.images.update(current, changed, guard=guard(current, changed) if guard else None,
                                        outbox=self._outbox(current, events))
            if stored is not None:
                return stored
        raise ImageStatusConflict(f"Image {image_id} is being changed concurrently; try again.")

    def _outbox(self, before: Image, events: Callable[[Image, Image], Sequence[DomainEvent]] | None
                ) -> Callable[[Image], Sequence[OutboxMessage]] | None:
        if events is None:
            return None
        return lambda stored: self.extensions.outbox(events(before, stored))
