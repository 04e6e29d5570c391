"""Finding images as a given caller sees them, and changing them without lost updates."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection

from glimpse import policy
from glimpse.context import RequestContext
from glimpse.db.images import ImageRepository
from glimpse.db.members import MemberRepository
from glimpse.domain.images import Image, Visibility
from glimpse.errors import Forbidden, ImageNotFound, ImageStatusConflict, PreconditionFailed

#: How often a change is re-read and re-applied after losing a race.
_MAX_ATTEMPTS = 20


def normalize_image_id(image_id: str) -> str | None:
    """The canonical (lowercase, dashed) form of a UUID string, or ``None`` if it is not one."""
    if len(image_id) != 36:
        return None
    try:
        return str(uuid.UUID(image_id))
    except ValueError:
        return None


class ImageAccess:
    """Image lookups that apply visibility, and compare-and-swap changes."""

    def __init__(self, images: ImageRepository, members: MemberRepository) -> None:
        self.images = images
        self.members = members

    def is_visible(self, ctx: RequestContext, image: Image) -> bool:
        member = (
            image.visibility is Visibility.SHARED
            and ctx.project_id is not None
            and image.owner != ctx.project_id
            and self.members.get(image.id, ctx.project_id) is not None
        )
        return policy.get_image(ctx, image, is_member=member)

    def find(self, ctx: RequestContext, image_id: str) -> Image:
        """The image if it exists and the caller may see it; else :class:`ImageNotFound`."""
        canonical = normalize_image_id(image_id)
        image = self.images.get(canonical) if canonical else None
        if image is None or not self.is_visible(ctx, image):
            raise ImageNotFound(image_id)
        return image

    def find_modifiable(self, ctx: RequestContext, image_id: str, action: str = "modify") -> Image:
        """Like :meth:`find`, then :class:`Forbidden` unless the caller may change the image."""
        image = self.find(ctx, image_id)
        if not policy.modify_image(ctx, image):
            raise Forbidden(f"You are not permitted to {action} image {image.id}.")
        return image

    def change(self, image_id: str, apply: Callable[[Image], Image], *,
               expected_revisions: Collection[int] | None = None) -> Image:
        """Apply ``apply`` to the current image and store the result atomically.

        ``apply`` gets the freshest image and returns the changed one (or the
        same object for no change); it may raise to refuse. When another writer
        got there first, the image is read again and ``apply`` runs again.
        With ``expected_revisions``, the change applies only to an image still at
        one of those revisions; otherwise :class:`PreconditionFailed`.
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
            stored = self.images.update(current, changed)
            if stored is not None:
                return stored
        raise ImageStatusConflict(f"Image {image_id} is being changed concurrently; try again.")
