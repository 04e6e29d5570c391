"""Plain typed objects for what the Images API returns.

Each keeps the body it was built from in ``raw`` (so nothing the server sent
is lost, whether Glimpse or Glance, and ``-f json`` prints it unchanged) and
exposes the well-known fields as typed attributes. An image's custom
properties are in ``properties``. They are plain slotted classes rather than
dataclasses because building dataclasses at import costs the CLI start-up time.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
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


class _Record:
    """A typed view of one JSON object; equal when the objects are."""

    __slots__ = ("raw",)
    _shown: tuple[str, ...] = ()

    raw: dict[str, Any]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, _Record) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.raw.items(), key=lambda kv: kv[0]))))


class Image(_Record):
    """An image record (``GET /v2/images/{id}``)."""

    __slots__ = ("id", "name", "status", "visibility", "protected", "os_hidden", "owner", "disk_format",
                 "container_format", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
                 "min_ram", "min_disk", "created_at", "updated_at", "tags", "properties")
    _shown = ("id", "name", "status", "size")

    def __init__(self, body: dict[str, Any]) -> None:
        self.raw = dict(body)
        self.id: str = str(body["id"])
        self.name: str | None = _str(body.get("name"))
        self.status: str = str(body.get("status", ""))
        self.visibility: str | None = _str(body.get("visibility"))
        self.protected: bool = bool(body.get("protected", False))
        self.os_hidden: bool = bool(body.get("os_hidden", False))
        self.owner: str | None = _str(body.get("owner"))
        self.disk_format: str | None = _str(body.get("disk_format"))
        self.container_format: str | None = _str(body.get("container_format"))
        self.size: int | None = _int(body.get("size"))
        self.virtual_size: int | None = _int(body.get("virtual_size"))
        self.checksum: str | None = _str(body.get("checksum"))
        self.os_hash_algo: str | None = _str(body.get("os_hash_algo"))
        self.os_hash_value: str | None = _str(body.get("os_hash_value"))
        self.min_ram: int = _int(body.get("min_ram")) or 0
        self.min_disk: int = _int(body.get("min_disk")) or 0
        self.created_at: str | None = _str(body.get("created_at"))
        self.updated_at: str | None = _str(body.get("updated_at"))
        self.tags: list[str] = [str(t) for t in body.get("tags") or []]
        #: Custom properties (always strings in the Images API).
        self.properties: dict[str, str] = {k: str(v) for k, v in body.items() if k not in IMAGE_BASE_KEYS}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Image:
        return cls(body)


class Member(_Record):
    """An image member: a project the image is shared with."""

    __slots__ = ("image_id", "member_id", "status", "created_at", "updated_at")
    _shown = ("image_id", "member_id", "status")

    def __init__(self, body: dict[str, Any]) -> None:
        self.raw = dict(body)
        self.image_id: str = str(body.get("image_id", ""))
        self.member_id: str = str(body.get("member_id", ""))
        self.status: str = str(body.get("status", ""))
        self.created_at: str | None = _str(body.get("created_at"))
        self.updated_at: str | None = _str(body.get("updated_at"))

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Member:
        return cls(body)


class Task(_Record):
    """An asynchronous task (``/v2/tasks``, image imports)."""

    __slots__ = ("id", "type", "status", "owner", "image_id", "input", "result", "message", "created_at",
                 "updated_at", "expires_at")
    _shown = ("id", "type", "status")

    def __init__(self, body: dict[str, Any]) -> None:
        self.raw = dict(body)
        task_input, result = body.get("input"), body.get("result")
        self.id: str = str(body["id"])
        self.type: str = str(body.get("type", ""))
        self.status: str = str(body.get("status", ""))
        self.owner: str | None = _str(body.get("owner"))
        self.image_id: str | None = _str(body.get("image_id"))
        self.input: dict[str, Any] | None = task_input if isinstance(task_input, dict) else None
        self.result: dict[str, Any] | None = result if isinstance(result, dict) else None
        self.message: str = str(body.get("message") or "")
        self.created_at: str | None = _str(body.get("created_at"))
        self.updated_at: str | None = _str(body.get("updated_at"))
        self.expires_at: str | None = _str(body.get("expires_at"))

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Task:
        return cls(body)


class Namespace(_Record):
    """A metadata-definitions namespace (``/v2/metadefs/namespaces/{namespace}``)."""

    __slots__ = ("namespace", "display_name", "description", "visibility", "protected", "owner",
                 "resource_type_associations", "properties", "objects", "tags")
    _shown = ("namespace", "visibility")

    def __init__(self, body: dict[str, Any]) -> None:
        self.raw = dict(body)
        self.namespace: str = str(body.get("namespace", ""))
        self.display_name: str | None = _str(body.get("display_name"))
        self.description: str | None = _str(body.get("description"))
        self.visibility: str | None = _str(body.get("visibility"))
        self.protected: bool = bool(body.get("protected", False))
        self.owner: str | None = _str(body.get("owner"))
        self.resource_type_associations: list[dict[str, Any]] = list(body.get("resource_type_associations") or [])
        self.properties: dict[str, Any] = dict(body.get("properties") or {})
        self.objects: list[dict[str, Any]] = list(body.get("objects") or [])
        self.tags: list[dict[str, Any]] = list(body.get("tags") or [])

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Namespace:
        return cls(body)


class Store(_Record):
    """A store listed by ``/v2/info/stores``."""

    __slots__ = ("id", "description", "default", "read_only")
    _shown = ("id", "default")

    def __init__(self, body: dict[str, Any]) -> None:
        self.raw = dict(body)
        self.id: str = str(body.get("id", ""))
        self.description: str | None = _str(body.get("description"))
        self.default: bool = str(body.get("default", "")).lower() == "true"
        self.read_only: bool = str(body.get("read-only", "")).lower() == "true"

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Store:
        return cls(body)


class Template(_Record):
    """A server template version (``GET /v2/templates/{id}``): an image, typed parameters and user data."""

    __slots__ = ("id", "name", "version", "deprecated", "description", "owner", "visibility", "protected", "tags",
                 "image_id", "parameters", "user_data", "metadata", "min_ram", "min_disk", "flavor_hint",
                 "networks_hint", "created_at", "updated_at")
    _shown = ("id", "name", "version")

    def __init__(self, body: dict[str, Any]) -> None:
        self.raw = dict(body)
        self.id: str = str(body.get("id", ""))
        self.name: str = str(body.get("name", ""))
        self.version: str = str(body.get("version", ""))
        self.deprecated: bool = bool(body.get("deprecated", False))
        self.description: str = str(body.get("description") or "")
        self.owner: str | None = _str(body.get("owner"))
        self.visibility: str | None = _str(body.get("visibility"))
        self.protected: bool = bool(body.get("protected", False))
        self.tags: list[str] = list(body.get("tags") or [])
        self.image_id: str = str(body.get("image_id", ""))
        self.parameters: dict[str, Any] = dict(body.get("parameters") or {})
        self.user_data: str = str(body.get("user_data") or "")
        self.metadata: dict[str, str] = dict(body.get("metadata") or {})
        self.min_ram: int = _int(body.get("min_ram")) or 0
        self.min_disk: int = _int(body.get("min_disk")) or 0
        self.flavor_hint: str | None = _str(body.get("flavor_hint"))
        self.networks_hint: list[str] = list(body.get("networks_hint") or [])
        self.created_at: str | None = _str(body.get("created_at"))
        self.updated_at: str | None = _str(body.get("updated_at"))

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Template:
        return cls(body)

    def required_parameters(self) -> list[str]:
        """Names of the parameters that must be given (required, without a default)."""
        return [name for name, d in self.parameters.items() if d.get("required") and "default" not in d]
