"""JSON Patch documents for images: parsing both OpenStack media types and
applying the operations to an :class:`~glimpse.domain.images.Image`.

Permission questions (who may change ``owner`` or make an image public) are
not answered here; the service compares the image before and after.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from glimpse.domain.images import (
    CREATE_ATTRIBUTES,
    FORMAT_MUTABLE_STATUSES,
    LINK_ATTRIBUTES,
    READ_ONLY_ATTRIBUTES,
    Image,
    Visibility,
    is_reserved,
)
from glimpse.domain.schemas import ImageSchema
from glimpse.errors import Forbidden, InvalidPatch, PropertyConflict, ReadOnlyAttribute, ReservedAttribute

MEDIA_TYPE_V21 = "application/openstack-images-v2.1-json-patch"
MEDIA_TYPE_V20 = "application/openstack-images-v2.0-json-patch"
MEDIA_TYPES = (MEDIA_TYPE_V20, MEDIA_TYPE_V21)

_OPERATIONS = ("add", "remove", "replace")
_UNSUPPORTED = ("test", "move", "copy")
#: Attributes a patch may never touch (``id`` is fixed once created).
_PATCH_READ_ONLY = READ_ONLY_ATTRIBUTES | LINK_ATTRIBUTES | {"id"}
_MUTABLE_BASE = CREATE_ATTRIBUTES - {"id"}


class Dialect(StrEnum):
    """The two patch media types; they differ in what ``add`` of an existing key does."""

    V20 = "v2.0"
    V21 = "v2.1"


@dataclass(frozen=True)
class PatchOperation:
    op: str
    path: tuple[str, ...]
    value: Any = None

    @property
    def root(self) -> str:
        return self.path[0]


def parse_patch(document: Any, dialect: Dialect = Dialect.V21) -> list[PatchOperation]:
    """Turn a decoded JSON Patch body into operations, or raise :class:`InvalidPatch`."""
    if not isinstance(document, list):
        raise InvalidPatch("A JSON Patch document must be a JSON array of operation objects.")
    return [_parse_operation(raw, dialect) for raw in document]


def _parse_operation(raw: Any, dialect: Dialect) -> PatchOperation:
    if not isinstance(raw, dict):
        raise InvalidPatch("Each operation in a JSON Patch document must be a JSON object.")
    if dialect is Dialect.V21:
        op = raw.get("op")
        if op in _UNSUPPORTED:
            raise InvalidPatch(f"Operation '{op}' is not supported; use add, remove or replace.")
        if op not in _OPERATIONS:
            raise InvalidPatch(f"Operation must be one of add, remove, replace; got {op!r}.")
        path = raw.get("path")
    else:
        present = [name for name in _OPERATIONS if name in raw]
        if len(present) != 1:
            raise InvalidPatch("Each operation must name exactly one of 'add', 'remove' or 'replace'.")
        op = present[0]
        path = raw[op]
    if not isinstance(path, str):
        raise InvalidPatch(f"Operation '{op}' needs a 'path' string.")
    if op != "remove" and "value" not in raw:
        raise InvalidPatch(f"Operation '{op}' on '{path}' needs a 'value'.")
    return PatchOperation(op=op, path=_parse_pointer(path), value=raw.get("value"))


def _parse_pointer(pointer: str) -> tuple[str, ...]:
    if not pointer.startswith("/"):
        raise InvalidPatch(f"Invalid JSON pointer '{pointer}': it must start with '/'.")
    segments = pointer[1:].split("/")
    decoded = []
    for segment in segments:
        if not segment:
            raise InvalidPatch(f"Invalid JSON pointer '{pointer}': empty segments are not allowed.")
        if "~" in segment.replace("~0", "").replace("~1", ""):
            raise InvalidPatch(f"Invalid JSON pointer '{pointer}': '~' must be escaped as '~0'.")
        decoded.append(segment.replace("~1", "/").replace("~0", "~"))
    return tuple(decoded)


def apply_patch(
    image: Image,
    operations: Sequence[PatchOperation],
    schema: ImageSchema,
    dialect: Dialect = Dialect.V21,
) -> Image:
    """Return ``image`` with ``operations`` applied in order; all or nothing.

    Raises :class:`ReadOnlyAttribute`/:class:`ReservedAttribute`/:class:`Forbidden`
    (403 class), :class:`InvalidPatch`/:class:`SchemaViolation` (bad values) and
    :class:`PropertyConflict` (replace/remove of a missing custom property).
    """
    base: dict[str, Any] = {}
    properties = dict(image.properties)
    for operation in operations:
        name = operation.root
        _check_path(operation)
        if operation.op != "remove":
            schema.validate({name: operation.value})
        if name in _MUTABLE_BASE:
            if operation.op == "remove":
                raise Forbidden(f"Base attribute '{name}' cannot be removed.")
            base[name] = operation.value
        elif operation.op == "remove":
            if name not in properties:
                raise PropertyConflict(f"Property {name} does not exist.")
            del properties[name]
        elif operation.op == "replace" and name not in properties:
            raise PropertyConflict(f"Property {name} does not exist.")
        elif operation.op == "add" and dialect is Dialect.V20 and name in properties:
            raise PropertyConflict(f"Property {name} already present.")
        else:
            properties[name] = operation.value
    return _updated(image, base, properties)


def _check_path(operation: PatchOperation) -> None:
    name = operation.root
    if name in _PATCH_READ_ONLY:
        raise ReadOnlyAttribute(name)
    if name == "locations":
        raise Forbidden("Image locations are managed by the service and cannot be changed through a patch.")
    if is_reserved(name):
        raise ReservedAttribute(name)
    if len(operation.path) != 1:
        raise InvalidPatch(f"Invalid JSON pointer for this resource: '/{'/'.join(operation.path)}'.")
    if len(name) > 255:
        raise InvalidPatch("Property names are limited to 255 characters.")


def _updated(image: Image, base: Mapping[str, Any], properties: dict[str, str | None]) -> Image:
    changes: dict[str, Any] = dict(base)
    for name in ("disk_format", "container_format"):
        if name in changes and changes[name] != getattr(image, name) and image.status not in FORMAT_MUTABLE_STATUSES:
            raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
    if "tags" in changes:
        changes["tags"] = tuple(sorted(set(changes["tags"])))
    if "visibility" in changes:
        changes["visibility"] = Visibility(changes["visibility"])
    changes["properties"] = properties
    return dataclasses.replace(image, **changes)
