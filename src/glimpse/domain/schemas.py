"""JSON schemas of images and members: what the service validates with and what
``/v2/schemas/*`` serves, from one set of definitions.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from glimpse.domain.storable import INT32_MAX
from glimpse.errors import SchemaViolation

UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
STATUSES = ["queued", "saving", "active", "killed", "deleted", "uploading", "importing",
            "pending_delete", "deactivated"]
MEMBER_STATUSES = ["pending", "accepted", "rejected"]

#: Image properties Glance ships in its schema-image.json, offered by default.
DEFAULT_CUSTOM_PROPERTIES: dict[str, dict[str, Any]] = {
    "kernel_id": {"type": ["null", "string"], "pattern": UUID_PATTERN,
                  "description": "ID of an image to boot as the kernel of an AMI-style image."},
    "ramdisk_id": {"type": ["null", "string"], "pattern": UUID_PATTERN,
                   "description": "ID of an image to boot as the ramdisk of an AMI-style image."},
    "instance_uuid": {"type": "string",
                      "description": "Instance this image was made from (informational only)."},
    "architecture": {"type": "string", "description": "CPU architecture the operating system is built for."},
    "os_distro": {"type": "string", "description": "Common name of the operating system distribution."},
    "os_version": {"type": "string", "description": "Operating system version as named by the distributor."},
    "description": {"type": "string", "description": "A human-readable description of the image."},
    "cinder_encryption_key_id": {"type": "string",
                                 "description": "Key manager id of the key an encrypted volume image uses."},
    "cinder_encryption_key_deletion_policy": {
        "type": "string", "enum": ["on_image_deletion", "do_not_delete"],
        "description": "Whether the encryption key is deleted together with the image."},
}


def _nullable_enum(values: Iterable[str]) -> list[Any]:
    return [None, *values]


def _base_image_properties(disk_formats: list[str], container_formats: list[str]) -> dict[str, dict[str, Any]]:
    return {
        "id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
        "name": {"type": ["null", "string"], "maxLength": 255,
                 "description": "Descriptive name for the image"},
        "status": {"type": "string", "readOnly": True, "enum": STATUSES,
                   "description": "Status of the image"},
        "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"],
                       "description": "Scope of image accessibility"},
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
        "checksum": {"type": ["null", "string"], "readOnly": True, "maxLength": 32,
                     "description": "md5 hash of image contents."},
        "os_hash_algo": {"type": ["null", "string"], "readOnly": True, "maxLength": 64,
                         "description": "Algorithm to calculate the os_hash_value"},
        "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128,
                          "description": "Hexdigest of the image contents using the algorithm in os_hash_algo"},
        "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
        "size": {"type": ["null", "integer"], "readOnly": True,
                 "description": "Size of image file in bytes"},
        "virtual_size": {"type": ["null", "integer"], "readOnly": True,
                         "description": "Virtual size of image in bytes"},
        "container_format": {"type": ["null", "string"], "enum": _nullable_enum(container_formats),
                             "description": "Format of the container"},
        "disk_format": {"type": ["null", "string"], "enum": _nullable_enum(disk_formats),
                        "description": "Format of the disk"},
        "created_at": {"type": "string", "readOnly": True,
                       "description": "Date and time of image registration"},
        "updated_at": {"type": "string", "readOnly": True,
                       "description": "Date and time of the last image modification"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
                 "description": "List of strings related to the image"},
        "direct_url": {"type": "string", "readOnly": True,
                       "description": "URL to access the image file kept in external store"},
        "min_ram": {"type": "integer", "minimum": 0, "maximum": INT32_MAX,
                    "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "minimum": 0, "maximum": INT32_MAX,
                     "description": "Amount of disk space (in GB) required to boot image."},
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "stores": {"type": "string", "readOnly": True,
                   "description": "Store in which image data resides.  Only present when the operator has enabled multiple stores."},
        "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
        "locations": {
            "type": "array",
            "items": {"type": "object",
                      "properties": {"url": {"type": "string", "maxLength": 255},
                                     "metadata": {"type": "object"}},
                      "required": ["url", "metadata"]},
            "description": "A set of URLs to access the image file kept in external store",
        },
    }


def load_custom_properties(path: Path | None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Read an operator's extra image properties (Glance's ``schema-image.json``).

    The file is either a mapping of property name to JSON schema, or
    ``{"properties": {...}, "required": [...]}``. Without a file, the
    properties Glance ships are used.
    """
    if path is None:
        return copy.deepcopy(DEFAULT_CUSTOM_PROPERTIES), []
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read image schema file {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError(f"image schema file {path} must hold a JSON object")
    if isinstance(document.get("properties"), dict):
        return document["properties"], list(document.get("required", []))
    return document, []


@dataclass
class ImageSchema:
    """The image schema in force on this node, and a validator built from it."""

    disk_formats: list[str]
    container_formats: list[str]
    custom_properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._validator = jsonschema.Draft4Validator(self.document())

    @property
    def custom_names(self) -> frozenset[str]:
        return frozenset(self.custom_properties)

    @property
    def nullable_custom_names(self) -> frozenset[str]:
        """Custom properties whose schema admits ``null``."""
        def admits_null(definition: dict[str, Any]) -> bool:
            kind = definition.get("type")
            return kind == "null" or (isinstance(kind, list) and "null" in kind)

        return frozenset(name for name, definition in self.custom_properties.items() if admits_null(definition))

    def document(self, typed: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The body of ``GET /v2/schemas/image``; ``typed`` adds the catalog's properties.

        A catalog definition replaces a custom property of the same name; it
        never replaces a base attribute.
        """
        properties: dict[str, Any] = _base_image_properties(self.disk_formats, self.container_formats)
        for name, definition in self.custom_properties.items():
            properties[name] = {**definition, "is_base": False}
        for name, definition in (typed or {}).items():
            if name not in properties or properties[name].get("is_base") is False:
                properties[name] = definition
        doc: dict[str, Any] = {
            "name": "image",
            "properties": properties,
            "additionalProperties": {"type": "string"},
            "links": [
                {"rel": "self", "href": "{self}"},
                {"rel": "enclosure", "href": "{file}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        }
        if self.required:
            doc["required"] = list(self.required)
        return doc

    def collection_document(self, typed: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The body of ``GET /v2/schemas/images``."""
        return {
            "name": "images",
            "properties": {
                "images": {"type": "array", "items": self.document(typed)},
                "first": {"type": "string"},
                "next": {"type": "string"},
                "schema": {"type": "string"},
            },
            "links": [
                {"rel": "first", "href": "{first}"},
                {"rel": "next", "href": "{next}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        }

    def validate(self, fragment: Mapping[str, Any], *, check_required: bool = False) -> None:
        """Raise :class:`SchemaViolation` naming the first attribute that does not fit.

        ``fragment`` may be a partial image (a create body or one patched
        attribute); ``required`` is only checked when asked for.
        """
        for error in sorted(self._validator.iter_errors(dict(fragment)), key=lambda e: list(e.path)):
            if error.validator == "required" and not check_required:
                continue
            raise SchemaViolation(_describe(error))


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties" and where:
        return f"Invalid value for '{where}': additional properties must be strings, got {json.dumps(error.instance)}."
    if where:
        return f"Invalid value for '{where}': {error.message}."
    return f"Invalid image: {error.message}."


def member_schema() -> dict[str, Any]:
    """The body of ``GET /v2/schemas/member``."""
    return {
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "status": {"type": "string", "enum": MEMBER_STATUSES, "description": "The status of this image member"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "schema": {"type": "string", "readOnly": True},
        },
    }


def members_schema() -> dict[str, Any]:
    """The body of ``GET /v2/schemas/members``."""
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }


def _task_properties() -> dict[str, Any]:
    return {
        "id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the task"},
        "type": {"type": "string", "enum": ["import", "api_image_import", "location_import"],
                 "description": "The type of task represented by this content"},
        "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"],
                   "description": "The current status of this task"},
        "input": {"type": ["null", "object"], "description": "The parameters required by task, JSON blob"},
        "result": {"type": ["null", "object"], "description": "The result of current task, JSON blob"},
        "owner": {"type": "string", "description": "An identifier for the owner of this task"},
        "message": {"type": "string", "description": "Human-readable informative message (usually on failure)"},
        "image_id": {"type": "string", "description": "Image associated with the task"},
        "request_id": {"type": "string", "description": "Human-readable informative request-id"},
        "user_id": {"type": "string", "description": "User associated with the task"},
        "expires_at": {"type": ["null", "string"], "description": "When this resource may be removed"},
        "created_at": {"type": "string", "description": "When this resource was created"},
        "updated_at": {"type": "string", "description": "When this resource was updated"},
        "self": {"type": "string", "readOnly": True},
        "schema": {"type": "string", "readOnly": True},
    }


def task_schema() -> dict[str, Any]:
    """The body of ``GET /v2/schemas/task``."""
    return {"name": "task", "properties": _task_properties()}


def tasks_schema() -> dict[str, Any]:
    """The body of ``GET /v2/schemas/tasks``: a collection of task stubs (no input, result, message)."""
    stub = {k: v for k, v in _task_properties().items() if k not in ("input", "result", "message")}
    return {
        "name": "tasks",
        "properties": {
            "tasks": {"type": "array", "items": {"name": "task", "properties": stub}},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }
