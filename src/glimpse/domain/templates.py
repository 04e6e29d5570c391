"""Server templates: an image plus typed parameters and the ``user_data`` that configures its software.

A template is published in versions: each ``(owner, name, version)`` is one
immutable record with its own id. Only its *listing* attributes (``deprecated``,
``visibility``, ``protected``, ``tags``) change in place; a change to its
content publishes a new version. Visibility and sharing follow images
(``domain/images.py``): ``private``, ``shared`` (with members), ``community``,
``public``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from glimpse.domain.images import Visibility
from glimpse.errors import InvalidQuery

#: Attributes that make up what a version *is*: changing one publishes a new version.
CONTENT_ATTRIBUTES = ("description", "image_id", "parameters", "user_data", "metadata", "min_ram", "min_disk",
                      "flavor_hint", "networks_hint")
#: Attributes a version may change in place.
LISTING_ATTRIBUTES = ("deprecated", "visibility", "protected", "tags")
#: Attributes a caller may give when creating a template.
CREATE_ATTRIBUTES = frozenset({"name", "version", "owner", *CONTENT_ATTRIBUTES, *LISTING_ATTRIBUTES})
READ_ONLY_ATTRIBUTES = frozenset({"id", "created_at", "updated_at", "self", "schema", "latest"})
SEMVER = re.compile(r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z.-]{1,64}))?$")
MAX_METADATA_KEYS = 64


@dataclass(frozen=True)
class Template:
    """One published version of a server template."""

    id: str
    name: str
    version: str
    owner: str | None
    visibility: Visibility
    image_id: str
    user_data: str
    created_at: dt.datetime
    updated_at: dt.datetime
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    min_ram: int = 0
    min_disk: int = 0
    flavor_hint: str | None = None
    networks_hint: tuple[str, ...] = ()
    deprecated: bool = False
    protected: bool = False
    tags: tuple[str, ...] = ()
    revision: int = 0

    def content(self) -> dict[str, Any]:
        """The content attributes, as a caller writes them."""
        return {
            "description": self.description, "image_id": self.image_id, "parameters": self.parameters,
            "user_data": self.user_data, "metadata": self.metadata, "min_ram": self.min_ram,
            "min_disk": self.min_disk, "flavor_hint": self.flavor_hint, "networks_hint": list(self.networks_hint),
        }

    def document(self) -> dict[str, Any]:
        """Every attribute a caller can write (what a JSON Patch applies to)."""
        return {"name": self.name, "version": self.version, "owner": self.owner, **self.content(),
                "deprecated": self.deprecated, "visibility": self.visibility.value, "protected": self.protected,
                "tags": list(self.tags)}

    def replaced(self, **changes: Any) -> Template:
        return dataclasses.replace(self, **changes)


def version_key(version: str) -> tuple[int, int, int, int, tuple[Any, ...]]:
    """Sort key of a semantic version (a pre-release sorts before its release)."""
    match = SEMVER.match(version)
    if match is None:
        raise ValueError(version)
    major, minor, patch, pre = match.groups()
    pre_key: tuple[Any, ...] = ()
    if pre:
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return int(major), int(minor), int(patch), 0 if pre else 1, pre_key


def version_order(version: str) -> str:
    """A string that sorts like the version (for the database); pre-releases sort before the release."""
    major, minor, patch, release, _ = version_key(version)
    return f"{major:09d}.{minor:09d}.{patch:09d}.{release}{version.partition('-')[2][:40]}"


def is_visible_to(template: Template, project_id: str | None, *, is_admin: bool, is_member: bool) -> bool:
    """The images' visibility rule, for templates."""
    if is_admin or template.owner is None:
        return True
    if template.visibility in (Visibility.PUBLIC, Visibility.COMMUNITY):
        return True
    if project_id is not None and template.owner == project_id:
        return True
    return template.visibility is Visibility.SHARED and is_member


def audience_problem(template_visibility: Visibility, image_visibility: Visibility) -> str | None:
    """Why the audience of a template could not see its image, or ``None``.

    Public and community templates need a public or community image; shared
    templates need an image that can be shared too (each member's view is
    checked when it renders); a private template may use any image its owner sees.
    """
    if image_visibility in (Visibility.PUBLIC, Visibility.COMMUNITY) or template_visibility is Visibility.PRIVATE:
        return None
    if template_visibility is Visibility.SHARED and image_visibility is Visibility.SHARED:
        return None
    return (f"a {template_visibility.value} template cannot use a {image_visibility.value} image: "
            "those the template is offered to could not see it")


@dataclass(frozen=True)
class TemplateQuery:
    """Filters, sorting and paging of a template listing."""

    limit: int
    marker: str | None = None
    sort: tuple[str, str] = ("created_at", "desc")
    visibility: str | None = None
    member_status: str = "accepted"
    all_versions: bool = False
    version: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


SORT_KEYS = ("name", "version", "created_at", "updated_at")
_CHOICES = {"visibility": ("public", "private", "shared", "community", "all"),
            "member_status": ("pending", "accepted", "rejected", "all"), "sort_dir": ("asc", "desc"),
            "sort_key": SORT_KEYS, "all_versions": ("true", "false"), "deprecated": ("true", "false"),
            "protected": ("true", "false")}
_KNOWN = {"limit", "marker", "sort_key", "sort_dir", "visibility", "member_status", "all_versions", "version",
          "name", "owner", "image_id", "deprecated", "protected", "tag"}


def parse_template_query(params: list[tuple[str, str]], *, default_limit: int, max_limit: int) -> TemplateQuery:
    """A :class:`TemplateQuery` from query parameters; :class:`InvalidQuery` names a bad one."""
    single: dict[str, str] = {}
    for key, value in params:
        if key not in _KNOWN:
            raise InvalidQuery(f"Unknown query parameter '{key}'; use one of {', '.join(sorted(_KNOWN))}.")
        if key in _CHOICES and value.lower() not in _CHOICES[key]:
            raise InvalidQuery(f"Query parameter '{key}' must be one of {', '.join(_CHOICES[key])}; got {value!r}.")
        if key != "tag":
            single[key] = value.lower() if key in _CHOICES else value
    limit = default_limit
    if "limit" in single:
        if not single["limit"].strip().isdigit():
            raise InvalidQuery(f"Query parameter 'limit' must be a non-negative integer, got {single['limit']!r}.")
        limit = min(int(single["limit"]), max_limit)
    columns: dict[str, Any] = {k: single[k] for k in ("name", "owner", "image_id") if k in single}
    columns.update({k: single[k] == "true" for k in ("deprecated", "protected") if k in single})
    return TemplateQuery(
        limit=limit, marker=single.get("marker"),
        sort=(single.get("sort_key", "created_at"), single.get("sort_dir", "desc")),
        visibility=single.get("visibility"), member_status=single.get("member_status", "accepted"),
        all_versions=single.get("all_versions") == "true", version=single.get("version"), columns=columns,
        tags=tuple(v for k, v in params if k == "tag"),
    )


def metadata_problems(metadata: Mapping[str, Any]) -> list[str]:
    """Server metadata as Nova takes it: at most 64 string keys and values of 1-255 characters."""
    if len(metadata) > MAX_METADATA_KEYS:
        return [f"at most {MAX_METADATA_KEYS} metadata keys are allowed"]
    return [f"metadata key {key!r}: keys and values are strings of 1 to 255 characters"
            for key, value in metadata.items()
            if not (isinstance(key, str) and 0 < len(key) <= 255 and isinstance(value, str) and len(value) <= 255)]
