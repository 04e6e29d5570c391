"""The image entity, its status machine and the names of its base attributes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from glimpse.errors import InvalidStatusTransition


class ImageStatus(StrEnum):
    QUEUED = "queued"
    SAVING = "saving"
    UPLOADING = "uploading"
    IMPORTING = "importing"
    ACTIVE = "active"
    KILLED = "killed"
    PENDING_DELETE = "pending_delete"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"


S = ImageStatus

#: Allowed status transitions, current -> possible next statuses.
TRANSITIONS: dict[ImageStatus, frozenset[ImageStatus]] = {
    S.QUEUED: frozenset({S.SAVING, S.UPLOADING, S.IMPORTING, S.ACTIVE, S.DELETED}),
    S.SAVING: frozenset({S.ACTIVE, S.KILLED, S.DELETED, S.QUEUED}),
    S.UPLOADING: frozenset({S.IMPORTING, S.QUEUED, S.DELETED}),
    S.IMPORTING: frozenset({S.ACTIVE, S.DELETED, S.QUEUED}),
    S.ACTIVE: frozenset({S.PENDING_DELETE, S.DELETED, S.DEACTIVATED}),
    S.KILLED: frozenset({S.DELETED}),
    S.PENDING_DELETE: frozenset({S.DELETED, S.ACTIVE}),
    S.DEACTIVATED: frozenset({S.ACTIVE, S.PENDING_DELETE, S.DELETED}),
    S.DELETED: frozenset(),
}


def can_transition(current: ImageStatus, target: ImageStatus) -> bool:
    """True when the status machine allows ``current -> target``."""
    return target in TRANSITIONS[current]


def check_transition(current: ImageStatus, target: ImageStatus, image_id: str = "") -> None:
    """Raise :class:`InvalidStatusTransition` unless :data:`TRANSITIONS` allows ``current -> target``.

    Staying in the same status is no transition and always allowed.
    """
    if current is not target and not can_transition(current, target):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        raise InvalidStatusTransition(
            f"Image {image_id} cannot go from status '{current}' to '{target}' (from '{current}': {allowed})."
            if image_id else f"An image cannot go from status '{current}' to '{target}' (from '{current}': {allowed})."
        )


class Visibility(StrEnum):
    PUBLIC = "public"
    COMMUNITY = "community"
    SHARED = "shared"
    PRIVATE = "private"


#: Statuses whose images never appear in lists (``pending_delete``: deleted, its data kept for the scrubber).
UNLISTED_STATUSES = frozenset({S.DELETED, S.KILLED, S.PENDING_DELETE})
#: Statuses in which disk_format and container_format may still change.
FORMAT_MUTABLE_STATUSES = frozenset({S.QUEUED, S.IMPORTING})

#: Base attributes a caller may give when creating an image.
CREATE_ATTRIBUTES = frozenset(
    {"id", "name", "visibility", "protected", "os_hidden", "owner", "container_format", "disk_format",
     "min_disk", "min_ram", "tags"}
)
#: Attributes that are links or views; never accepted in a body.
LINK_ATTRIBUTES = frozenset({"direct_url", "self", "file", "schema", "stores"})
#: Attributes only the service sets.
READ_ONLY_ATTRIBUTES = frozenset(
    {"status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at", "updated_at"}
)
#: Names that can never be used as custom properties.
RESERVED_ATTRIBUTES = frozenset({"location", "locations", "deleted", "deleted_at"})
RESERVED_PREFIX = "os_glance"
#: Every base attribute of the image schema.
BASE_ATTRIBUTES = CREATE_ATTRIBUTES | LINK_ATTRIBUTES | READ_ONLY_ATTRIBUTES | {"locations"}

MAX_NAME_LENGTH = 255


def is_reserved(name: str) -> bool:
    return name in RESERVED_ATTRIBUTES or name.startswith(RESERVED_PREFIX)


def is_visible_to(image: Image, project_id: str | None, *, is_admin: bool, is_member: bool) -> bool:
    """Glance's visibility rule: who can see an image at all, before any policy.

    Admins see everything; images without an owner, public and community
    images are seen by all; the owner sees its images; a ``shared`` image is
    also seen by its member projects, whatever their member status.
    """
    if is_admin or image.owner is None:
        return True
    if image.visibility in (Visibility.PUBLIC, Visibility.COMMUNITY):
        return True
    if project_id is not None and image.owner == project_id:
        return True
    return image.visibility is Visibility.SHARED and is_member


class PropertyVisibility(StrEnum):
    """Who sees a custom property: all who see the image, or only the image owner (and admins)."""

    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True)
class PropertyInfo:
    """Who last set a custom property, and who may see it."""

    project_id: str | None = None
    visibility: PropertyVisibility = PropertyVisibility.PUBLIC


PUBLIC_PROPERTY = PropertyInfo()


def sees_private_properties(image: Image, project_id: str | None, *, is_admin: bool) -> bool:
    """Private properties are shown to the image owner's project and to administrators only."""
    return is_admin or (project_id is not None and image.owner == project_id)


@dataclass(frozen=True)
class ImageLocation:
    """Where a copy of an image's data lives: a store id and the driver's key."""

    store: str
    key: str
    url: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    """One image record. Custom properties are strings; tags are a sorted tuple."""

    id: str
    name: str | None
    status: ImageStatus
    visibility: Visibility
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    protected: bool = False
    os_hidden: bool = False
    disk_format: str | None = None
    container_format: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    size: int | None = None
    virtual_size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    tags: tuple[str, ...] = ()
    properties: dict[str, str | None] = field(default_factory=dict)
    locations: tuple[ImageLocation, ...] = ()
    revision: int = 1
    #: who set each custom property and its visibility; a name missing here is public, setter unknown
    property_info: dict[str, PropertyInfo] = field(default_factory=dict)
    #: when the data became active (set by the repository; a later reactivation keeps it)
    activated_at: dt.datetime | None = None

    def info(self, name: str) -> PropertyInfo:
        return self.property_info.get(name, PUBLIC_PROPERTY)

    def private_names(self) -> frozenset[str]:
        return frozenset(n for n, i in self.property_info.items()
                         if i.visibility is PropertyVisibility.PRIVATE and n in self.properties)

    @property
    def has_data(self) -> bool:
        return bool(self.locations)


def transition(image: Image, target: ImageStatus) -> Image:
    """``image`` in status ``target``: how a use case changes an image's status.

    Raises :class:`InvalidStatusTransition` unless :data:`TRANSITIONS` allows
    it. Every stored change is checked against the table again
    (:meth:`glimpse.services.access.ImageAccess.change`), so a status set any
    other way cannot slip past it.
    """
    check_transition(image.status, target, image.id)
    return dataclasses.replace(image, status=target)
