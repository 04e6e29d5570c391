"""Image metadata use cases: create, show, list, update, delete, (de)activate, tag."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.image_lists import ListScope
from glimpse.clock import utcnow
from glimpse.domain.events import DomainEvent
from glimpse.domain.images import (
    BASE_ATTRIBUTES,
    LINK_ATTRIBUTES,
    READ_ONLY_ATTRIBUTES,
    Image,
    ImageStatus,
    PropertyInfo,
    Visibility,
    is_reserved,
    transition,
)
from glimpse.domain.patch import Dialect, PatchOperation, apply_patch
from glimpse.domain.queries import ImageQuery
from glimpse.domain.schemas import ImageSchema
from glimpse.errors import (
    Forbidden,
    ImageNotFound,
    ImageProtected,
    ImageStatusConflict,
    InvalidQuery,
    InvalidStateForAction,
    QuotaExceeded,
    ReadOnlyAttribute,
    ReservedAttribute,
    SchemaViolation,
    TagNotFound,
)
from glimpse.services.access import ImageAccess, normalize_image_id
from glimpse.services.events import image_event
from glimpse.services.catalog import PropertyCatalog
from glimpse.services.quotas import ImageLimits, ProjectQuotas
from glimpse.services.stores import StoreSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImagePage:
    """One page of a listing; ``next_marker`` is set when another page may follow."""

    images: list[Image]
    next_marker: str | None


class ImageService:
    def __init__(self, access: ImageAccess, schema: ImageSchema, limits: ImageLimits, stores: StoreSet,
                 quotas: ProjectQuotas, catalog: PropertyCatalog, *, delayed_delete: bool = False) -> None:
        self._access = access
        self._delayed_delete = delayed_delete
        self._images = access.images
        self._policy = access.policy
        self._protections = access.protections
        self._schema = schema
        self._limits = limits
        self._stores = stores
        self._quotas = quotas
        self._extensions = access.extensions
        self._hooks = access.extensions.hook
        self._catalog = catalog

    # -- reads
    def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image; :class:`ImageNotFound` if it does not exist or the caller cannot see it."""
        return self._access.present(ctx, self._access.find(ctx, image_id))

    def list(self, ctx: RequestContext, query: ImageQuery) -> ImagePage:
        """A page of the images the caller can see that match ``query``.

        Raises :class:`Forbidden` if the caller may not list images, and
        :class:`InvalidQuery` if the marker is not an image the caller can see.
        """
        self._policy.enforce("get_images", ctx, {"project_id": ctx.project_id},
                             "You are not permitted to list images.")
        marker = None
        if query.marker is not None:
            canonical = normalize_image_id(query.marker)
            marker = self._images.get(canonical) if canonical else None
            if marker is None or not self._access.is_visible(ctx, marker):
                raise InvalidQuery(f"The marker {query.marker} is not an image you can see.")
        if any(not self._protections.allowed(ctx, name, "read") for name in query.properties):
            # As if the property did not exist: matching on it would reveal its value to a caller
            # who may not read it, one guess at a time.
            return ImagePage(images=[], next_marker=None)
        if query.properties:
            query = dataclasses.replace(query, properties=self._catalog.canonical_filter(ctx, query.properties))
        page = self._images.list_page(query, ListScope(ctx.project_id, ctx.is_admin), marker)
        full = query.limit > 0 and len(page) == query.limit
        next_marker = page[-1].id if full else None
        # The query already applied visibility; policy may narrow it further. A shared image of
        # another owner is in a non-admin's page only through membership.
        visible = [
            self._access.present(ctx, image) for image in page
            if self._access.is_visible(ctx, image, member=image.visibility is Visibility.SHARED
                                       and image.owner != ctx.project_id and not ctx.is_admin)
        ]
        return ImagePage(images=visible, next_marker=next_marker)

    # -- writes
    def create(self, ctx: RequestContext, fields: Mapping[str, Any]) -> Image:
        """Create a queued image from a flat mapping of base attributes and custom properties.

        Custom properties the catalog defines are checked and stored in canonical
        form. Raises :class:`ReadOnlyAttribute`/:class:`ReservedAttribute`/:class:`Forbidden`,
        :class:`SchemaViolation` (:class:`PropertyValueInvalid` for a catalog rule),
        :class:`DuplicateImage` and :class:`QuotaExceeded`.
        """
        for name in fields:
            if name in LINK_ATTRIBUTES:
                raise ReadOnlyAttribute(name)
        owner_hint = fields["owner"] if isinstance(fields.get("owner"), str) else ctx.project_id
        custom = {k: v for k, v in fields.items() if k not in BASE_ATTRIBUTES and not is_reserved(k)}
        if custom:
            fields = {**fields, **self._catalog.check_changes(ctx, owner_hint, {}, custom)}
        self._schema.validate(fields)
        for name in fields:
            if name in READ_ONLY_ATTRIBUTES:
                raise ReadOnlyAttribute(name)
            if is_reserved(name):
                raise ReservedAttribute(name)
            if len(name) > 255:
                raise SchemaViolation(f"Property names are limited to 255 characters: '{name[:40]}…'.")
        fields = self._prepared(ctx, fields)

        owner = fields["owner"] if "owner" in fields else ctx.project_id
        if "owner" in fields and owner != ctx.project_id and not ctx.is_admin:
            raise Forbidden(f"You are not permitted to create images owned by '{owner}'.")
        self._policy.enforce("add_image", ctx, {"project_id": ctx.project_id, "owner": owner},
                             "You are not permitted to create images in this project.")
        visibility = Visibility(fields.get("visibility", Visibility.SHARED))
        self._check_visibility(ctx, visibility)

        base = {"id", "name", "visibility", "protected", "os_hidden", "owner", "container_format", "disk_format",
                "min_disk", "min_ram", "tags"}
        properties = {k: v for k, v in fields.items() if k not in base}
        tags = tuple(sorted(set(fields.get("tags") or ())))
        for name in properties:
            self._check_protection(ctx, name, "create")
        self._limits.check_properties(properties)
        self._limits.check_property_size(properties)
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
            property_info={name: PropertyInfo(ctx.project_id) for name in properties},
        )
        stored = self._images.add(image, guard=self._quotas.for_new_image(owner),
                                 outbox=self._extensions.outbox([image_event("image.create", ctx, image)]))
        self._extensions.observe(self._hooks.image_created, ctx=ctx, image=stored)
        return self._access.present(ctx, stored)

    def _prepared(self, ctx: RequestContext, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` after the ``image_creating`` hooks changed them, checked again."""
        prepared = dict(fields)
        self._hooks.image_creating(ctx=ctx, fields=prepared)
        if prepared != fields:
            self._schema.validate(prepared)
            for name in prepared.keys() - fields.keys():
                if name in READ_ONLY_ATTRIBUTES or is_reserved(name):
                    raise ReservedAttribute(name)
        return prepared

    def update(
        self, ctx: RequestContext, image_id: str, operations: Sequence[PatchOperation], dialect: Dialect = Dialect.V21,
        *, expected_revisions: Collection[int] | None = None,
    ) -> Image:
        """Apply a JSON Patch atomically; any refused operation leaves the image unchanged.

        Values of catalog-defined properties are checked (:class:`PropertyValueInvalid`)
        and stored in canonical form; properties the caller cannot see are kept as they are.
        With ``expected_revisions`` the image must still be at one of them
        (:class:`PreconditionFailed` otherwise), checked atomically with the change.
        """
        image = self._access.find_for(ctx, image_id, "modify_image", "modify")

        def patched(current: Image) -> Image:
            changed = self._apply_visible(ctx, current, operations, dialect)
            if changed.owner != current.owner and not ctx.is_admin:
                raise Forbidden("Only an administrator can change the owner of an image.")
            if changed.visibility != current.visibility:
                self._check_visibility(ctx, changed.visibility)
            self._check_property_changes(ctx, current.properties, changed.properties)
            if len(changed.properties) > len(current.properties):
                self._limits.check_properties(changed.properties)
            self._limits.check_property_size(changed.properties, current.properties)
            if len(changed.tags) > len(current.tags):
                self._limits.check_tags(changed.tags)
            return changed

        return self._access.present(
            ctx, self._access.change_metadata(ctx, image.id, patched, expected_revisions=expected_revisions))

    def _apply_visible(self, ctx: RequestContext, current: Image, operations: Sequence[PatchOperation],
                       dialect: Dialect) -> Image:
        """``current`` patched as the caller sees it, catalog rules applied, hidden properties kept."""
        view = self._catalog.view_for(current.owner)
        operations = [dataclasses.replace(op, value=view.canonical(op.root, op.value))
                      if op.op != "remove" and len(op.path) == 1 and view.get(op.root) else op for op in operations]
        hidden = self._access.hidden_properties(ctx, current)
        seen = current if not hidden else dataclasses.replace(
            current, properties={k: v for k, v in current.properties.items() if k not in hidden})
        changed = apply_patch(seen, operations, self._schema, dialect)
        clash = sorted(hidden & changed.properties.keys())
        if clash:
            raise Forbidden(f"You are not permitted to set property '{clash[0]}' on image {current.id}.")
        properties = {**changed.properties, **{k: current.properties[k] for k in hidden}}
        properties = self._catalog.check_changes(ctx, current.owner, current.properties, properties)
        info = {}
        for name, value in properties.items():
            previous = current.info(name)
            unchanged = name in current.properties and current.properties[name] == value
            info[name] = previous if unchanged else PropertyInfo(ctx.project_id, previous.visibility)
        return dataclasses.replace(changed, properties=properties, property_info=info)

    def delete(self, ctx: RequestContext, image_id: str, *, expected_revisions: Collection[int] | None = None) -> None:
        """Delete the image and its data. :class:`ImageProtected` if it is protected.

        With ``delayed_delete`` an image holding data goes to ``pending_delete``
        instead: gone for the API, its data kept until the scrubber removes it
        (or an operator restores it). ``expected_revisions`` as for :meth:`update`.
        """
        image = self._access.find_for(ctx, image_id, "delete_image", "delete")

        def deleted(current: Image) -> Image:
            if current.protected:
                raise ImageProtected(f"Image {current.id} is protected and cannot be deleted.")
            if self._delayed_delete and current.locations and current.status in (ImageStatus.ACTIVE,
                                                                                 ImageStatus.DEACTIVATED):
                return transition(current, ImageStatus.PENDING_DELETE)
            return dataclasses.replace(transition(current, ImageStatus.DELETED), locations=())

        last: list[Image] = []

        def events(before: Image, stored: Image) -> list[DomainEvent]:
            last[:] = [before]
            return [image_event("image.delete", ctx, before, deleted_at=stored.updated_at)]

        self._access.change(image.id, deleted, events=events, expected_revisions=expected_revisions)
        self._stores.purge(self._images, image.id)
        self._extensions.observe(self._hooks.image_deleted, ctx=ctx, image=last[0])

    def restore(self, ctx: RequestContext, image_id: str) -> Image:
        """Bring a ``pending_delete`` image back to ``active`` (admins only; ``glimpse-manage image restore``).

        :class:`Forbidden` for others, :class:`ImageNotFound` if unknown or gone,
        :class:`ImageStatusConflict` unless it is ``pending_delete``.
        """
        if not ctx.is_admin:
            raise Forbidden("Only an administrator can restore a deleted image.")
        found = self._images.get(image_id)
        if found is None:
            raise ImageNotFound(image_id)

        def restored(current: Image) -> Image:
            if current.status is not ImageStatus.PENDING_DELETE:
                raise ImageStatusConflict(f"Image {current.id} is '{current.status}'; only a 'pending_delete' image "
                                          "can be restored.")
            return transition(current, ImageStatus.ACTIVE)

        return self._access.change(found.id, restored,
                                   events=lambda before, after: [image_event("image.update", ctx, after)])

    def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """``active -> deactivated``: data can no longer be downloaded by non-admins."""
        return self._switch(ctx, image_id, ImageStatus.ACTIVE, ImageStatus.DEACTIVATED, "deactivate")

    def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """``deactivated -> active``."""
        return self._switch(ctx, image_id, ImageStatus.DEACTIVATED, ImageStatus.ACTIVE, "reactivate")

    def _switch(self, ctx: RequestContext, image_id: str, source: ImageStatus, target: ImageStatus, action: str) -> Image:
        image = self._access.find_for(ctx, image_id, action, action)

        def switched(current: Image) -> Image:
            if current.status is target:
                return current
            if current.status is not source:
                raise InvalidStateForAction(
                    f"Cannot {action} an image in status '{current.status}'; it must be '{source}'."
                )
            return transition(current, target)

        return self._access.present(ctx, self._change(ctx, image.id, switched))

    # -- tags
    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Add ``tag`` (idempotent). :class:`QuotaExceeded` past the tag quota."""
        _check_tag(tag)
        image = self._access.find_for(ctx, image_id, "modify_image", "tag")

        def tagged(current: Image) -> Image:
            if tag in current.tags:
                return current
            tags = tuple(sorted({*current.tags, tag}))
            self._limits.check_tags(tags)
            return dataclasses.replace(current, tags=tags)

        return self._access.present(ctx, self._change(ctx, image.id, tagged))

    def remove_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Remove ``tag``; :class:`TagNotFound` if the image does not carry it."""
        image = self._access.find_for(ctx, image_id, "modify_image", "untag")

        def untagged(current: Image) -> Image:
            if tag not in current.tags:
                raise TagNotFound(f"Tag {tag!r} not found on image {current.id}.")
            return dataclasses.replace(current, tags=tuple(t for t in current.tags if t != tag))

        return self._access.present(ctx, self._change(ctx, image.id, untagged))

    def _change(self, ctx: RequestContext, image_id: str, apply: Callable[[Image], Image]) -> Image:
        return self._access.change_metadata(ctx, image_id, apply)

    def _check_visibility(self, ctx: RequestContext, visibility: Visibility) -> None:
        target = {"project_id": ctx.project_id}
        if visibility is Visibility.PUBLIC:
            self._policy.enforce("publicize_image", ctx, target,
                                 "You are not permitted to make images public; only administrators can.")
        if visibility is Visibility.COMMUNITY:
            self._policy.enforce("communitize_image", ctx, target,
                                 "You are not permitted to make images community-visible.")

    def _check_protection(self, ctx: RequestContext, name: str, operation: str) -> None:
        if not self._protections.allowed(ctx, name, operation):
            raise Forbidden(f"Property '{name}' is protected: you are not permitted to {operation} it.")

    def _check_property_changes(self, ctx: RequestContext, before: Mapping[str, str | None],
                                after: Mapping[str, str | None]) -> None:
        if not self._protections.enabled:
            return
        for name in before.keys() - after.keys():
            self._check_protection(ctx, name, "delete")
        for name, value in after.items():
            if name not in before:
                self._check_protection(ctx, name, "create")
            elif before[name] != value:
                self._check_protection(ctx, name, "update")


def _check_tag(tag: str) -> None:
    if not tag or len(tag) > 255:
        raise SchemaViolation("A tag must be between 1 and 255 characters long.")

