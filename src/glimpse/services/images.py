"""Image metadata use cases: create, show, list, update, delete, (de)activate, tag."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glimpse import policy
from glimpse.context import RequestContext
from glimpse.db.images import ListScope, utcnow
from glimpse.domain.images import (
    LINK_ATTRIBUTES,
    READ_ONLY_ATTRIBUTES,
    Image,
    ImageStatus,
    Visibility,
    is_reserved,
)
from glimpse.domain.patch import Dialect, PatchOperation, apply_patch
from glimpse.domain.queries import ImageQuery
from glimpse.domain.schemas import ImageSchema
from glimpse.errors import (
    Forbidden,
    ImageProtected,
    InvalidQuery,
    InvalidStateForAction,
    QuotaExceeded,
    ReadOnlyAttribute,
    ReservedAttribute,
    SchemaViolation,
    TagNotFound,
)
from glimpse.services.access import ImageAccess, normalize_image_id
from glimpse.services.quotas import ImageLimits
from glimpse.services.stores import StoreSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImagePage:
    """One page of a listing; ``next_marker`` is set when another page may follow."""

    images: list[Image]
    next_marker: str | None


class ImageService:
    def __init__(self, access: ImageAccess, schema: ImageSchema, limits: ImageLimits, stores: StoreSet) -> None:
        self._access = access
        self._images = access.images
        self._schema = schema
        self._limits = limits
        self._stores = stores

    # -- reads
    def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image; :class:`ImageNotFound` if it does not exist or the caller cannot see it."""
        return self._access.find(ctx, image_id)

    def list(self, ctx: RequestContext, query: ImageQuery) -> ImagePage:
        """A page of the images the caller can see that match ``query``.

        Raises :class:`InvalidQuery` if the marker is not an image the caller can see.
        """
        marker = None
        if query.marker is not None:
            canonical = normalize_image_id(query.marker)
            marker = self._images.get(canonical) if canonical else None
            if marker is None or not self._access.is_visible(ctx, marker):
                raise InvalidQuery(f"The marker {query.marker} is not an image you can see.")
        page = self._images.list_page(query, ListScope(ctx.project_id, ctx.is_admin), marker)
        full = query.limit > 0 and len(page) == query.limit
        return ImagePage(images=page, next_marker=page[-1].id if full else None)

    # -- writes
    def create(self, ctx: RequestContext, fields: Mapping[str, Any]) -> Image:
        """Create a queued image from a flat mapping of base attributes and custom properties.

        Raises :class:`ReadOnlyAttribute`/:class:`ReservedAttribute`/:class:`Forbidden`,
        :class:`SchemaViolation`, :class:`DuplicateImage` and :class:`QuotaExceeded`.
        """
        for name in fields:
            if name in LINK_ATTRIBUTES:
                raise ReadOnlyAttribute(name)
        self._schema.validate(fields)
        for name in fields:
            if name in READ_ONLY_ATTRIBUTES:
                raise ReadOnlyAttribute(name)
            if is_reserved(name):
                raise ReservedAttribute(name)
            if len(name) > 255:
                raise SchemaViolation(f"Property names are limited to 255 characters: '{name[:40]}…'.")

        owner = fields["owner"] if "owner" in fields else ctx.project_id
        if "owner" in fields and not policy.set_owner(ctx, owner):
            raise Forbidden(f"You are not permitted to create images owned by '{owner}'.")
        if not policy.add_image(ctx, owner):
            raise Forbidden("You are not permitted to create images in this project.")
        visibility = Visibility(fields.get("visibility", Visibility.SHARED))
        self._check_visibility(ctx, visibility)

        base = {"id", "name", "visibility", "protected", "os_hidden", "owner", "container_format", "disk_format",
                "min_disk", "min_ram", "tags"}
        properties = {k: v for k, v in fields.items() if k not in base}
        tags = tuple(sorted(set(fields.get("tags") or ())))
        self._limits.check_properties(properties)
        self._limits.check_tags(tags)
        now = utcnow()
        image = Image(
            id=normalize_image_id(fields["id"]) or fields["id"] if "id" in fields else str(uuid.uuid4()),  # validated
            name=fields.get("name"),
            status=ImageStatus.QUEUED,
            visibility=visibility,
            owner=owner,
            created_at=now,
            updated_at=now,
            protected=bool(fields.get("protected", False)),
            os_hidden=bool(fields.get("os_hidden", False)),
            disk_format=fields.get("disk_format"),
            container_format=fields.get("container_format"),
            min_disk=int(fields.get("min_disk", 0)),
            min_ram=int(fields.get("min_ram", 0)),
            tags=tags,
            properties=properties,
        )
        return self._images.add(image)

    def update(
        self, ctx: RequestContext, image_id: str, operations: Sequence[PatchOperation], dialect: Dialect = Dialect.V21,
        *, expected_revisions: Collection[int] | None = None,
    ) -> Image:
        """Apply a JSON Patch atomically; any refused operation leaves the image unchanged.

        With ``expected_revisions`` the image must still be at one of them
        (:class:`PreconditionFailed` otherwise), checked atomically with the change.
        """
        image = self._access.find_modifiable(ctx, image_id)

        def patched(current: Image) -> Image:
            changed = apply_patch(current, operations, self._schema, dialect)
            if changed.owner != current.owner and not ctx.is_admin:
                raise Forbidden("Only an administrator can change the owner of an image.")
            if changed.visibility != current.visibility:
                self._check_visibility(ctx, changed.visibility)
            if len(changed.properties) > len(current.properties):
                self._limits.check_properties(changed.properties)
            if len(changed.tags) > len(current.tags):
                self._limits.check_tags(changed.tags)
            return changed

        return self._access.change(image.id, patched, expected_revisions=expected_revisions)

    def delete(self, ctx: RequestContext, image_id: str, *, expected_revisions: Collection[int] | None = None) -> None:
        """Delete the image and its data. :class:`ImageProtected` if it is protected.

        ``expected_revisions`` as for :meth:`update`.
        """
        image = self._access.find_modifiable(ctx, image_id, "delete")

        def deleted(current: Image) -> Image:
            if current.protected:
                raise ImageProtected(f"Image {current.id} is protected and cannot be deleted.")
            return dataclasses.replace(current, status=ImageStatus.DELETED, locations=())

        self._access.change(image.id, deleted, expected_revisions=expected_revisions)
        self._stores.purge(self._images, image.id)

    def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """``active -> deactivated``: data can no longer be downloaded by non-admins."""
        return self._switch(ctx, image_id, ImageStatus.ACTIVE, ImageStatus.DEACTIVATED, "deactivate")

    def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """``deactivated -> active``."""
        return self._switch(ctx, image_id, ImageStatus.DEACTIVATED, ImageStatus.ACTIVE, "reactivate")

    def _switch(self, ctx: RequestContext, image_id: str, source: ImageStatus, target: ImageStatus, action: str) -> Image:
        image = self._access.find_modifiable(ctx, image_id, action)

        def switched(current: Image) -> Image:
            if current.status is target:
                return current
            if current.status is not source:
                raise InvalidStateForAction(
                    f"Cannot {action} an image in status '{current.status}'; it must be '{source}'."
                )
            return dataclasses.replace(current, status=target)

        return self._access.change(image.id, switched)

    # -- tags
    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Add ``tag`` (idempotent). :class:`QuotaExceeded` past the tag quota."""
        _check_tag(tag)
        image = self._access.find_modifiable(ctx, image_id)

        def tagged(current: Image) -> Image:
            if tag in current.tags:
                return current
            tags = tuple(sorted({*current.tags, tag}))
            self._limits.check_tags(tags)
            return dataclasses.replace(current, tags=tags)

        return self._access.change(image.id, tagged)

    def remove_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Remove ``tag``; :class:`TagNotFound` if the image does not carry it."""
        image = self._access.find_modifiable(ctx, image_id)

        def untagged(current: Image) -> Image:
            if tag not in current.tags:
                raise TagNotFound(f"Tag {tag!r} not found on image {current.id}.")
            return dataclasses.replace(current, tags=tuple(t for t in current.tags if t != tag))

        return self._access.change(image.id, untagged)

    def _check_visibility(self, ctx: RequestContext, visibility: Visibility) -> None:
        if visibility is Visibility.PUBLIC and not policy.publicize_image(ctx):
            raise Forbidden("You are not permitted to make images public; only administrators can.")
        if visibility is Visibility.COMMUNITY and not policy.communitize_image(ctx):
            raise Forbidden("You are not permitted to make images community-visible.")


def _check_tag(tag: str) -> None:
    if not tag or len(tag) > 255:
        raise SchemaViolation("A tag must be between 1 and 255 characters long.")

