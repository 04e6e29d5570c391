"""Sharing server templates: the images' member rules and policy (``add_member``, ``get_member``,
``modify_member``, ``delete_member``), with a template as the target."""

from __future__ import annotations

from glimpse.context import RequestContext
from glimpse.db.members import MemberRepository
from glimpse.domain.images import Visibility
from glimpse.domain.members import Member, MemberStatus
from glimpse.domain.templates import Template
from glimpse.errors import Forbidden, MemberNotFound, SchemaViolation
from glimpse.policy import Policy
from glimpse.services.quotas import ImageLimits
from glimpse.services.templates import TemplateService


class TemplateMemberService:
    def __init__(self, templates: TemplateService, members: MemberRepository, policy: Policy,
                 limits: ImageLimits) -> None:
        self._templates = templates
        self._members = members
        self._policy = policy
        self._limits = limits

    def add(self, ctx: RequestContext, template_id: str, member_id: str) -> Member:
        """Offer the template to ``member_id`` (``pending``); only its owner may, and only when it is ``shared``."""
        if not isinstance(member_id, str) or not member_id.strip() or len(member_id) > 255:
            raise SchemaViolation("'member' must be a project id of 1 to 255 characters.")
        template = self._shared(ctx, template_id)
        self._enforce("add_member", ctx, template, None,
                      f"You are not permitted to share template {template.id}; only its owner can.")
        self._limits.check_members(self._members.count(template.id) + 1)
        return self._members.add(template.id, member_id)

    def list(self, ctx: RequestContext, template_id: str) -> list[Member]:
        template = self._shared(ctx, template_id)
        own = self._members.get(template.id, ctx.project_id) if ctx.project_id else None
        self._enforce("get_members", ctx, template, own.member_id if own else None,
                      f"You are not permitted to see the members of template {template.id}.")
        if ctx.is_admin or (ctx.project_id is not None and ctx.project_id == template.owner):
            return self._members.list(template.id)
        return [own] if own else []

    def get(self, ctx: RequestContext, template_id: str, member_id: str) -> Member:
        return self._find(ctx, template_id, member_id)[1]

    def update(self, ctx: RequestContext, template_id: str, member_id: str, status: object) -> Member:
        """Accept, reject or reset a share; only the member project itself may."""
        if status not in set(MemberStatus):
            raise SchemaViolation(f"Member status must be one of pending, accepted, rejected; got {status!r}.")
        template, _ = self._find(ctx, template_id, member_id)
        self._enforce("modify_member", ctx, template, member_id,
                      "Only the member project can accept or reject a template shared with it.")
        updated = self._members.set_status(template.id, member_id, MemberStatus(str(status)))
        if updated is None:
            raise MemberNotFound(f"Project {member_id} is not a member of template {template.id}.")
        return updated

    def delete(self, ctx: RequestContext, template_id: str, member_id: str) -> None:
        template, _ = self._find(ctx, template_id, member_id)
        self._enforce("delete_member", ctx, template, None,
                      f"You are not permitted to unshare template {template.id}; only its owner can.")
        if not self._members.delete(template.id, member_id):
            raise MemberNotFound(f"Project {member_id} is not a member of template {template.id}.")

    def _find(self, ctx: RequestContext, template_id: str, member_id: str) -> tuple[Template, Member]:
        template = self._templates.find(ctx, template_id)
        member = self._members.get(template.id, member_id) if template.visibility is Visibility.SHARED else None
        if member is None or not (ctx.is_admin or ctx.project_id in (template.owner, member_id)) or \
                not self._policy.allowed("get_member", ctx, self._target(ctx, template, member_id)):
            raise MemberNotFound(f"Project {member_id} is not a member of template {template.id}.")
        return template, member

    def _shared(self, ctx: RequestContext, template_id: str) -> Template:
        template = self._templates.find(ctx, template_id)
        if template.visibility is not Visibility.SHARED:
            raise Forbidden(f"Template {template.id} is not shared; only templates with 'shared' visibility "
                            "have members.")
        return template

    def _target(self, ctx: RequestContext, template: Template, member_id: str | None) -> dict[str, object]:
        return {**self._templates.target(ctx, template, member=False), "member_id": member_id}

    def _enforce(self, rule: str, ctx: RequestContext, template: Template, member_id: str | None,
                 message: str) -> None:
        self._policy.enforce(rule, ctx, self._target(ctx, template, member_id), message)
