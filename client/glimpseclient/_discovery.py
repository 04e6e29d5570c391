"""Reading the version document: API versions, and where metadata and data calls go.

Glimpse can split a deployment into registry nodes (metadata) and streaming
nodes (image bytes). Its version document then carries, next to the usual
``{"rel": "self"}`` link, ``{"rel": "registry"}`` and ``{"rel": "streaming"}``
links. Glance only has ``self``; then everything goes to the configured endpoint.
"""

from __future__ import annotations

import re
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_VERSION_SUFFIX = re.compile(r"/v\d+(\.\d+)?/?$")

#: Paths that carry image bytes: ``/v2/images/{id}/file`` and ``/v2/images/{id}/stage``.
#: image data, and the image cache of the streaming nodes that hold it
_DATA_PATH = re.compile(r"^/v2/(images/[^/]+/(file|stage)|cache(/[^/]+)?)$")


def service_root(url: str) -> str:
    """``http://h:9292/v2/`` or ``http://h:9292/v2.9`` or ``http://h:9292/`` -> ``http://h:9292``."""
    return _VERSION_SUFFIX.sub("", url.rstrip("/") + "/").rstrip("/")


def is_data_path(path: str) -> bool:
    return bool(_DATA_PATH.match(path))


class Version:
    """One entry of the version document; ``links`` maps ``rel`` to ``href``."""

    __slots__ = ("id", "status", "links")

    def __init__(self, id: str, status: str, links: dict[str, str]) -> None:  # noqa: A002 - the document's name
        self.id = id
        self.status = status
        self.links = links

    def __repr__(self) -> str:
        return f"Version(id={self.id!r}, status={self.status!r}, links={self.links!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and (other.id, other.status, other.links) == (
            self.id, self.status, self.links)

    __hash__ = None  # type: ignore[assignment]  # links is a dict


class Endpoints:
    """Service roots (no ``/v2``): metadata calls go to ``registry``, data calls to ``streaming``."""

    __slots__ = ("registry", "streaming")

    def __init__(self, registry: str, streaming: str) -> None:
        self.registry = registry
        self.streaming = streaming

    def for_path(self, path: str) -> str:
        return self.streaming if is_data_path(path) else self.registry

    def as_dict(self) -> dict[str, str]:
        return {"registry": self.registry, "streaming": self.streaming}

    def __repr__(self) -> str:
        return f"Endpoints(registry={self.registry!r}, streaming={self.streaming!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Endpoints) and (other.registry, other.streaming) == (self.registry, self.streaming)

    def __hash__(self) -> int:
        return hash((self.registry, self.streaming))


def parse_versions(document: Any) -> list[Version]:
    """The entries of a ``GET /versions`` body; malformed entries are skipped."""
    entries = document.get("versions") if isinstance(document, dict) else None
    if isinstance(entries, dict):  # Keystone-style {"values": [...]}
        entries = entries.get("values")
    versions = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        links = {str(link.get("rel")): str(link.get("href")) for link in entry.get("links") or []
                 if isinstance(link, dict) and link.get("href")}
        versions.append(Version(entry["id"], str(entry.get("status", "")), links))
    return versions


def _minor(version: Version) -> tuple[int, int]:
    match = re.match(r"^v(\d+)(?:\.(\d+))?$", version.id)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else (0, 0)


def current_version(versions: list[Version]) -> Version | None:
    """The ``CURRENT`` v2 entry, else the highest v2 one."""
    v2 = [v for v in versions if v.id.startswith("v2")]
    current = [v for v in v2 if v.status.upper() == "CURRENT"]
    candidates = current or v2
    return max(candidates, key=_minor) if candidates else None


def endpoints_from(versions: list[Version], root: str, *, registry: str | None = None,
                   streaming: str | None = None) -> Endpoints:
    """Where calls go: explicit endpoints win, then the document's links, then ``root``."""
    version = current_version(versions)
    links = version.links if version else {}
    registry = registry or (service_root(links["registry"]) if "registry" in links else root)
    streaming = streaming or (service_root(links["streaming"]) if "streaming" in links else registry)
    return Endpoints(service_root(registry), service_root(streaming))
