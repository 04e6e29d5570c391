"""Plain typed objects for what the Images API returns.

Each keeps the body it was built from in ``raw`` (so nothing the server sent
is lost, whether Glimpse or Glance, and ``-f json`` prints it unchanged) and
exposes the well-known fields as attributes. An image's custom properties are
in ``properties``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Keys of an image body that are not custom properties.
IMAGE_BASE_KEYS = frozenset({
    "id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo", "os_hash_value",
    "owner", "size", "virtual_size", "min_ram", "min_disk", "container_format", "disk_format", "created_at",
    "updated_at", "tags", "self", "file", "schema", "direct_url", "locations", "stores",
})


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Image:
    id: str
    name: str | None
    status: str
    visibility: str | None
    protected: bool
    os_hidden: bool
    owner: str | None
    disk_format: str | None
    container_format: str | None
    size: int | None
    virtual_size: int | None
    checksum: str | None
    os_hash_algo: str | None
    os_hash_value: str | None
    min_ram: int
    min_disk: int
    created_at: str | None
    updated_at: str | None
    tags: list[str]
    #: Custom properties (always strings in the Images API).
    properties: dict[str, str]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Image:
        return cls(
            id=str(body["id"]), name=_str(body.get("name")), status=str(body.get("status", "")),
            visibility=_str(body.get("visibility")), protected=bool(body.get("protected", False)),
            os_hidden=bool(body.get("os_hidden", False)), owner=_str(body.get("owner")),
            disk_format=_str(body.get("disk_format")), container_format=_str(body.get("container_format")),
            size=_int(body.get("size")), virtual_size=_int(body.get("virtual_size")),
            checksum=_str(body.get("checksum")), os_hash_algo=_str(body.get("os_hash_algo")),
            os_hash_value=_str(body.get("os_hash_value")), min_ram=_int(body.get("min_ram")) or 0,
            min_disk=_int(body.get("min_disk")) or 0, created_at=_str(body.get("created_at")),
            updated_at=_str(body.get("updated_at")), tags=[str(t) for t in body.get("tags") or []],
            properties={k: str(v) for k, v in body.items() if k not in IMAGE_BASE_KEYS},
            raw=dict(body),
        )


@dataclass(frozen=True)
class Member:
    image_id: str
    member_id: str
    status: str
    created_at: str | None
    updated_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Member:
        return cls(image_id=str(body.get("image_id", "")), member_id=str(body.get("member_id", "")),
                   status=str(body.get("status", "")), created_at=_str(body.get("created_at")),
                   updated_at=_str(body.get("updated_at")), raw=dict(body))


@dataclass(frozen=True)
class Task:
    id: str
    type: str
    status: str
    owner: str | None
    image_id: str | None
    input: dict[str, Any] | None
    result: dict[str, Any] | None
    message: str
    created_at: str | None
    updated_at: str | None
    expires_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Task:
        task_input, result = body.get("input"), body.get("result")
        return cls(id=str(body["id"]), type=str(body.get("type", "")), status=str(body.get("status", "")),
                   owner=_str(body.get("owner")), image_id=_str(body.get("image_id")),
                   input=task_input if isinstance(task_input, dict) else None,
                   result=result if isinstance(result, dict) else None, message=str(body.get("message") or ""),
                   created_at=_str(body.get("created_at")), updated_at=_str(body.get("updated_at")),
                   expires_at=_str(body.get("expires_at")), raw=dict(body))


@dataclass(frozen=True)
class Namespace:
    """A metadata-definitions namespace (``/v2/metadefs/namespaces/{namespace}``)."""

    namespace: str
    display_name: str | None
    description: str | None
    visibility: str | None
    protected: bool
    owner: str | None
    resource_type_associations: list[dict[str, Any]]
    properties: dict[str, Any]
    objects: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Namespace:
        return cls(namespace=str(body.get("namespace", "")), display_name=_str(body.get("display_name")),
                   description=_str(body.get("description")), visibility=_str(body.get("visibility")),
                   protected=bool(body.get("protected", False)), owner=_str(body.get("owner")),
                   resource_type_associations=list(body.get("resource_type_associations") or []),
                   properties=dict(body.get("properties") or {}), objects=list(body.get("objects") or []),
                   tags=list(body.get("tags") or []), raw=dict(body))


@dataclass(frozen=True)
class Store:
    """A store listed by ``/v2/info/stores``."""

    id: str
    description: str | None
    default: bool
    read_only: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Store:
        return cls(id=str(body.get("id", "")), description=_str(body.get("description")),
                   default=str(body.get("default", "")).lower() == "true",
                   read_only=str(body.get("read-only", "")).lower() == "true", raw=dict(body))
