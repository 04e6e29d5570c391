"""Image sharing: the owner offers a ``shared`` image to projects, which accept or reject it."""

from __future__ import annotations

from glimpse.context import RequestContext
from glimpse.domain.events import OutboxMessage
from glimpse.domain.images import Image, Visibility
from glimpse.domain.members import Member, MemberStatus
from glimpse.errors import Forbidden, MemberNotFound, SchemaViolation
from glimpse.services.access import ImageAccess
from glimpse.services.events import member_event
from glimpse.services.quotas import ImageLimits


class MemberService:
    def __init__(self, access: ImageAccess, limits: ImageLimits) -> None:
        self._access = access
        self._members = access.members
        self._policy = access.policy
        self._limits = limits
        self._extensions = access.extensions
        self._hooks = access.extensions.hook

    def add(self, ctx: RequestContext, image_id: str, member_id: str) -> Member:
        """Offer the image to ``member_id`` (status ``pending``).

        Raises :class:`ImageNotFound`, :class:`Forbidden` (not the owner, or the
        image is not ``shared``), :class:`DuplicateMember`, :class:`QuotaExceeded`.
        """
        if not isinstance(member_id, str) or not member_id.strip() or len(member_id) > 255:
            raise SchemaViolation("'member' must be a project id of 1 to 255 characters.")
        image = self._shared_image(ctx, image_id)
        self._enforce("add_member", ctx, image, None, f"You are not permitted to share image {image.id}; "
                                                      "only its owner can.")
        self._limits.check_members(self._members.count(image.id) + 1)
        member = self._members.add(image.id, member_id, outbox=lambda added: self._extensions.outbox(
            [member_event("image.member.create", ctx, image, added)]))
        self._extensions.observe(self._hooks.member_created, ctx=ctx, image=image, member=member)
        return member

    def list(self, ctx: RequestContext, image_id: str) -> list[Member]:
        """All members for the owner and admins; for a member, only its own entry."""
        image = self._shared_image(ctx, image_id)
        own = self._members.get(image.id, ctx.project_id) if ctx.project_id else None
        self._enforce("get_members", ctx, image, own.member_id if own else None,
                      f"You are not permitted to see the members of image {image.id}.")
        if ctx.is_admin or (ctx.project_id is not None and ctx.project_id == image.owner):
            return self._members.list(image.id)
        return [own] if own else []

    def get(self, ctx: RequestContext, image_id: str, member_id: str) -> Member:
        """One membership, seen by the owner, the member itself or an admin; else :class:`MemberNotFound`."""
        return self._find(ctx, image_id, member_id, "get_member")[1]

    def update(self, ctx: RequestContext, image_id: str, member_id: str, status: object) -> Member:
        """Accept, reject or reset a share; only the member project itself may."""
        if status not in set(MemberStatus):
            raise SchemaViolation(f"Member status must be one of pending, accepted, rejected; got {status!r}.")
        image, _ = self._find(ctx, image_id, member_id, "get_member")
        self._enforce("modify_member", ctx, image, member_id,
                      "Only the member project can accept or reject an image shared with it.")
        updated = self._members.set_status(image.id, member_id, MemberStatus(str(status)), outbox=lambda stored: (
            self._extensions.outbox([member_event("image.member.update", ctx, image, stored)])))
        if updated is None:
            raise MemberNotFound(f"Project {member_id} is not a member of image {image.id}.")
        self._extensions.observe(self._hooks.member_updated, ctx=ctx, image=image, member=updated)
        return updated

    def delete(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        image, _ = self._find(ctx, image_id, member_id, "get_member")
        self._enforce("delete_member", ctx, image, None,
                      f"You are not permitted to unshare image {image.id}; only its owner can.")
        gone: list[Member] = []

        def outbox(member: Member) -> list[OutboxMessage]:
            gone.append(member)
            return self._extensions.outbox([member_event("image.member.delete", ctx, image, member)])

        if not self._members.delete(image.id, member_id, outbox=outbox):
            raise MemberNotFound(f"Project {member_id} is not a member of image {image.id}.")
        self._extensions.observe(self._hooks.member_deleted, ctx=ctx, image=image, member=gone[0])

    def _find(self, ctx: RequestContext, image_id: str, member_id: str, rule: str) -> tuple[Image, Member]:
        image = self._access.find(ctx, image_id)
        member = self._members.get(image.id, member_id) if image.visibility is Visibility.SHARED else None
        if member is None or not (ctx.is_admin or ctx.project_id in (image.owner, member_id)) or not \
                self._policy.allowed(rule, ctx, self._target(ctx, image, member_id)):
            raise MemberNotFound(f"Project {member_id} is not a member of image {image.id}.")
        return image, member

    def _shared_image(self, ctx: RequestContext, image_id: str) -> Image:
        image = self._access.find(ctx, image_id)
        if image.visibility is not Visibility.SHARED:
            raise Forbidden(f"Image {image.id} is not shared; only images with 'shared' visibility have members.")
        return image

    def _target(self, ctx: RequestContext, image: Image, member_id: str | None) -> dict[str, object]:
        return {**self._access.target(ctx, image, member=False), "member_id": member_id}

    def _enforce(self, rule: str, ctx: RequestContext, image: Image, member_id: str | None, message: str) -> None:
        self._policy.enforce(rule, ctx, self._target(ctx, image, member_id), message)
