"""Access rules, with the defaults of Glance's secure role-based policy.

Each function answers one question for one caller and is named after the
Glance rule it stands for. Visibility questions that need membership take the
caller's membership as an argument, so this module does no I/O.
"""

from __future__ import annotations

from glimpse.context import RequestContext
from glimpse.domain.images import Image, ImageStatus, Visibility


def _is_project_member(ctx: RequestContext, project_id: str | None) -> bool:
    return ctx.project_id is not None and ctx.project_id == project_id and ctx.has_role("member")


def get_image(ctx: RequestContext, image: Image, *, is_member: bool) -> bool:
    """May the caller see the image at all (show, download, members)?"""
    if ctx.is_admin or image.owner is None:
        return True
    if image.visibility in (Visibility.PUBLIC, Visibility.COMMUNITY):
        return True
    if ctx.project_id is not None and image.owner == ctx.project_id:
        return True
    return image.visibility is Visibility.SHARED and is_member


def add_image(ctx: RequestContext, owner: str | None) -> bool:
    """May the caller create an image owned by ``owner``?"""
    return ctx.is_admin or _is_project_member(ctx, owner)


def modify_image(ctx: RequestContext, image: Image) -> bool:
    """Update, tag, upload, delete, deactivate: the owning project's members and admins."""
    return ctx.is_admin or _is_project_member(ctx, image.owner)


def publicize_image(ctx: RequestContext) -> bool:
    return ctx.is_admin


def communitize_image(ctx: RequestContext) -> bool:
    return ctx.is_admin or ctx.has_role("member")


def set_owner(ctx: RequestContext, owner: str | None) -> bool:
    """Only admins give an image to another project."""
    return ctx.is_admin or owner == ctx.project_id


def download_image(ctx: RequestContext, image: Image) -> bool:
    """Deactivated images are readable only by admins."""
    return ctx.is_admin or image.status is not ImageStatus.DEACTIVATED


def manage_members(ctx: RequestContext, image: Image) -> bool:
    """Add or remove members: the owner's members and admins."""
    return ctx.is_admin or _is_project_member(ctx, image.owner)


def modify_member(ctx: RequestContext, member_id: str) -> bool:
    """Accept or reject a share: the member project itself (or an admin)."""
    return ctx.is_admin or (ctx.project_id == member_id and ctx.has_role("member"))


def view_store_details(ctx: RequestContext) -> bool:
    return ctx.is_admin or ctx.has_role("service")
