"""One image property at a time: list, show, set (with visibility) and remove, optionally conditional.

The same rules as a JSON Patch of the whole image apply (policy, property
protections, the catalog's types, quotas); a private property exists only for
the image owner's project and administrators, everyone else gets 404.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from glimpse.context import RequestContext
from glimpse.domain.catalog import CatalogView
from glimpse.domain.images import (
    BASE_ATTRIBUTES,
    Image,
    PropertyInfo,
    PropertyVisibility,
    is_reserved,
    sees_private_properties,
)
from glimpse.domain.properties import Precondition, PropertyRecord
from glimpse.domain.schemas import ImageSchema
from glimpse.errors import (
    Forbidden,
    PreconditionFailed,
    PropertyNotFound,
    ReservedAttribute,
    SchemaViolation,
)
from glimpse.services.access import ImageAccess
from glimpse.services.catalog import PropertyCatalog
from glimpse.services.quotas import ImageLimits


class PropertyService:
    def __init__(self, access: ImageAccess, schema: ImageSchema, limits: ImageLimits,
                 catalog: PropertyCatalog) -> None:
        self._access = access
        self._policy = access.policy
        self._schema = schema
        self._limits = limits
        self._catalog = catalog

    def list(self, ctx: RequestContext, image_id: str) -> tuple[Image, list[PropertyRecord]]:
        """The image (as the caller sees it) and its custom properties, sorted by name."""
        image = self._readable(ctx, image_id)
        view = self._catalog.view_for(image.owner)
        return image, [self._record(image, name, view) for name in sorted(image.properties)]

    def get(self, ctx: RequestContext, image_id: str, name: str) -> PropertyRecord:
        """One property; :class:`PropertyNotFound` if the image lacks it or the caller may not see it."""
        image = self._readable(ctx, image_id)
        if name not in image.properties:
            raise PropertyNotFound(f"Image {image.id} has no property '{name}'.")
        return self._record(image, name, self._catalog.view_for(image.owner))

    def set(self, ctx: RequestContext, image_id: str, name: str, value: Any, *,
            visibility: str | None = None, precondition: Precondition | None = None) -> tuple[PropertyRecord, bool]:
        """Create or replace one property; returns the record and whether it was created.

        ``visibility`` (``public``/``private``) defaults to the property's
        current one, or ``public``; only the image owner's project (or an
        admin) may make a property private. Raises :class:`PropertyValueInvalid`,
        :class:`Forbidden`, :class:`QuotaExceeded` and :class:`PreconditionFailed`.
        """
        _check_name(name)
        wanted = _visibility(visibility)
        image = self._access.find_for(ctx, image_id, "modify_image", "modify")
        self._enforce("modify_image_property", ctx, image)
        created = False

        def apply(current: Image) -> Image:
            nonlocal created
            if name in self._access.hidden_properties(ctx, current):
                raise Forbidden(f"You are not permitted to set property '{name}' on image {current.id}.")
            _check_precondition(precondition, current, name)
            owner_view = sees_private_properties(current, ctx.project_id, is_admin=ctx.is_admin)
            previous = current.info(name)
            new_visibility = wanted or previous.visibility
            if new_visibility is PropertyVisibility.PRIVATE and not owner_view:
                raise Forbidden("Only the image owner's project can make a property private.")
            properties = {**current.properties, name: value}
            created = name not in current.properties
            self._check_protection(ctx, name, "create" if created else "update")
            properties = self._catalog.check_changes(ctx, current.owner, current.properties, properties)
            self._schema.validate({name: properties[name]})
            if created:
                self._limits.check_properties(properties)
            self._limits.check_property_size(properties, current.properties)
            unchanged = not created and current.properties[name] == properties[name]
            info = PropertyInfo(previous.project_id if unchanged else ctx.project_id, new_visibility)
            if unchanged and info == previous:
                return current
            return dataclasses.replace(current, properties=properties,
                                       property_info={**current.property_info, name: info})

        stored = self._access.change_metadata(ctx, image.id, apply)
        return self._record(self._access.present(ctx, stored), name, self._catalog.view_for(stored.owner)), created

    def delete(self, ctx: RequestContext, image_id: str, name: str, *,
               precondition: Precondition | None = None) -> None:
        """Remove one property; :class:`PropertyNotFound` if absent (or hidden from the caller)."""
        image = self._access.find_for(ctx, image_id, "modify_image", "modify")
        self._enforce("modify_image_property", ctx, image)

        def apply(current: Image) -> Image:
            if name not in current.properties or name in self._access.hidden_properties(ctx, current):
                raise PropertyNotFound(f"Image {current.id} has no property '{name}'.")
            _check_precondition(precondition, current, name)
            self._check_protection(ctx, name, "delete")
            remaining = {k: v for k, v in current.properties.items() if k != name}
            self._catalog.check_changes(ctx, current.owner, current.properties, remaining)
            return dataclasses.replace(current, properties=remaining,
                                       property_info={k: v for k, v in current.property_info.items() if k != name})

        self._access.change_metadata(ctx, image.id, apply)

    # -- helpers
    def _readable(self, ctx: RequestContext, image_id: str) -> Image:
        image = self._access.find(ctx, image_id)
        self._enforce("get_image_properties", ctx, image)
        return self._access.present(ctx, image)

    def _enforce(self, rule: str, ctx: RequestContext, image: Image) -> None:
        self._policy.enforce(rule, ctx, self._access.target(ctx, image),
                             f"You are not permitted to do this with the properties of image {image.id}.")

    def _check_protection(self, ctx: RequestContext, name: str, operation: str) -> None:
        if not self._access.protections.allowed(ctx, name, operation):
            raise Forbidden(f"Property '{name}' is protected: you are not permitted to {operation} it.")

    def _record(self, image: Image, name: str, view: CatalogView) -> PropertyRecord:
        definition = view.get(name)
        stored = image.properties[name]
        info = image.info(name)
        return PropertyRecord(
            name=name, stored=stored, value=definition.parse(stored) if definition else stored,
            type=definition.type if definition else "string", namespace=definition.namespace if definition else None,
            project_id=info.project_id, visibility=info.visibility, image_id=image.id,
            image_revision=image.revision)


def _check_name(name: str) -> None:
    if not name or len(name) > 255:
        raise SchemaViolation("A property name must be between 1 and 255 characters long.")
    if is_reserved(name):
        raise ReservedAttribute(name)
    if name in BASE_ATTRIBUTES:
        raise Forbidden(f"'{name}' is a base attribute of images, not a custom property; "
                        "change it with PATCH /v2/images/{id}.")


def _visibility(raw: str | None) -> PropertyVisibility | None:
    if raw is None:
        return None
    try:
        return PropertyVisibility(raw)
    except ValueError:
        raise SchemaViolation(f"Property visibility must be 'public' or 'private', not {raw!r}.") from None


def _check_precondition(precondition: Precondition | None, image: Image, name: str) -> None:
    if precondition is not None and not precondition.holds(image, name):
        raise PreconditionFailed(
            f"Property '{name}' of image {image.id} is not in the state named by If-Match/If-None-Match "
            f"(it changed since it was read); read it again.")
