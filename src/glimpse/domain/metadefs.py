"""The metadata definitions catalog: namespaces and what they hold, as plain values.

A namespace groups typed property definitions (directly, or inside objects)
and tags, and is associated with resource types such as ``OS::Glance::Image``;
an association may give a ``prefix`` that property names carry on that
resource type (``hw_`` + ``cpu_policy``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from glimpse.errors import InvalidQuery

#: The resource type whose associated namespaces define image properties.
IMAGE_RESOURCE_TYPE = "OS::Glance::Image"
NAMESPACE_VISIBILITIES = ("public", "private")


@dataclass(frozen=True)
class Namespace:
    namespace: str
    owner: str | None
    visibility: str = "private"
    protected: bool = False
    display_name: str | None = None
    description: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class ResourceType:
    name: str
    protected: bool = False
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class Association:
    """A namespace's association with a resource type."""

    name: str
    prefix: str | None = None
    properties_target: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class PropertyDefinition:
    """One typed property: ``schema`` is the definition without its name (``type``, ``title``, ...)."""

    name: str
    schema: dict[str, Any]
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class MetadefObject:
    """A named group of property definitions; ``required`` names the ones an instance must set."""

    name: str
    description: str | None = None
    required: tuple[str, ...] = ()
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class MetadefTag:
    name: str
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class NamespaceContents:
    """A namespace with everything it holds (``GET /v2/metadefs/namespaces/{ns}``)."""

    namespace: Namespace
    associations: tuple[Association, ...] = ()
    properties: tuple[PropertyDefinition, ...] = ()
    objects: tuple[MetadefObject, ...] = ()
    tags: tuple[MetadefTag, ...] = ()


def is_namespace_visible(namespace: Namespace, project_id: str | None, *, is_admin: bool) -> bool:
    """Glance's rule: admins see all; public and owner-less namespaces are seen by all; else the owner."""
    if is_admin or namespace.owner is None or namespace.visibility == "public":
        return True
    return project_id is not None and namespace.owner == project_id


# -- list queries


NAMESPACE_SORT_KEYS = ("namespace", "created_at", "updated_at")
TAG_SORT_KEYS = ("name", "created_at", "updated_at")


@dataclass(frozen=True)
class ListQuery:
    """Paging, sorting and filters of a namespace or tag listing."""

    limit: int
    marker: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    visibility: str | None = None
    resource_types: tuple[str, ...] = ()


def parse_list_query(params: Mapping[str, str], *, sort_keys: tuple[str, ...], default_limit: int,
                     max_limit: int, default_dir: str = "desc") -> ListQuery:
    """Glance's listing parameters; :class:`InvalidQuery` names the one that is wrong."""
    raw_limit = params.get("limit")
    limit = default_limit
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise InvalidQuery(f"limit param must be an integer, got {raw_limit!r}") from None
        if limit < 0:
            raise InvalidQuery("limit param must be positive")
    sort_key = params.get("sort_key", "created_at")
    if sort_key not in sort_keys:
        raise InvalidQuery(f"Invalid sort key: {sort_key}; use one of {', '.join(sort_keys)}")
    sort_dir = params.get("sort_dir", default_dir)
    if sort_dir not in ("asc", "desc"):
        raise InvalidQuery(f"Invalid sort direction: {sort_dir}")
    visibility = params.get("visibility") or None
    if visibility is not None and visibility not in NAMESPACE_VISIBILITIES:
        raise InvalidQuery(f"Invalid visibility value: {visibility}")
    types = tuple(t.strip() for t in params.get("resource_types", "").split(",") if t.strip())
    return ListQuery(limit=min(limit, max_limit), marker=params.get("marker") or None, sort_key=sort_key,
                     sort_dir=sort_dir, visibility=visibility, resource_types=types)


def with_prefix(contents: NamespaceContents, resource_type: str) -> NamespaceContents:
    """Property names (and objects' required lists) as they read on ``resource_type``."""
    association = next((a for a in contents.associations if a.name == resource_type), None)
    prefix = association.prefix if association else None
    if not prefix:
        return contents
    properties = tuple(PropertyDefinition(prefix + p.name, p.schema, p.created_at, p.updated_at)
                       for p in contents.properties)
    objects = tuple(MetadefObject(o.name, o.description, tuple(prefix + r for r in o.required),
                                  {prefix + k: v for k, v in o.properties.items()}, o.created_at, o.updated_at)
                    for o in contents.objects)
    return NamespaceContents(contents.namespace, contents.associations, properties, objects, contents.tags)
