"""The image-property catalog: every typed property the metadefs define for images.

Built from the namespaces associated with ``OS::Glance::Image``: each
namespace property, and each property of an object, under the name images
carry (the association's prefix + the definition's name). A project sees the
public namespaces and its own private ones, so a private namespace never
constrains, or reveals itself to, anyone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from glimpse.domain.images import BASE_ATTRIBUTES, is_reserved
from glimpse.domain.metadefs import IMAGE_RESOURCE_TYPE, NamespaceContents
from glimpse.domain.property_types import TypedProperty
from glimpse.errors import PropertyValueInvalid


@dataclass(frozen=True)
class RequiredGroup:
    """An object's ``required`` list: once an image sets one property of the object, it must set these."""

    namespace: str
    object_name: str
    members: frozenset[str]
    required: tuple[str, ...]


@dataclass(frozen=True)
class CatalogView:
    """The definitions one project's images follow, by the property name images carry."""

    properties: dict[str, TypedProperty] = field(default_factory=dict)
    groups: tuple[RequiredGroup, ...] = ()

    def get(self, name: str) -> TypedProperty | None:
        return self.properties.get(name)

    def canonical(self, name: str, value: Any) -> Any:
        """``value`` in canonical form if ``name`` is defined (``None`` passes); else unchanged."""
        definition = self.properties.get(name)
        if definition is None or value is None:
            return value
        return definition.canonical(value)

    def check_required(self, properties: Mapping[str, Any]) -> None:
        """Raise :class:`PropertyValueInvalid` (rule ``required``) for a group used but incomplete."""
        for group in self.groups:
            used = sorted(group.members & properties.keys())
            if not used:
                continue
            for name in group.required:
                if properties.get(name) is None:
                    raise PropertyValueInvalid(
                        name, "required", None,
                        f"object '{group.object_name}' of namespace '{group.namespace}' requires it "
                        f"once '{used[0]}' is set")

    def required_by(self, name: str) -> list[str]:
        """``namespace/object`` of every group that requires ``name``."""
        return [f"{g.namespace}/{g.object_name}" for g in self.groups if name in g.required]


@dataclass(frozen=True)
class _Source:
    """One namespace's contribution, and who may see it."""

    namespace: str
    owner: str | None
    public: bool
    properties: tuple[TypedProperty, ...]
    groups: tuple[RequiredGroup, ...]


class ImageCatalog:
    """All image definitions at one catalog ``revision``; :meth:`view` gives one project's part."""

    def __init__(self, revision: int, namespaces: Iterable[NamespaceContents]) -> None:
        self.revision = revision
        self._sources = sorted((_source(c) for c in namespaces if _image_association(c) is not None),
                               key=lambda s: (not s.public, s.namespace))
        self._views: dict[tuple[str | None, bool], CatalogView] = {}

    @property
    def empty(self) -> bool:
        return not self._sources

    def names(self) -> frozenset[str]:
        """Every property name defined in any namespace (for scans of stored values)."""
        return frozenset(p.name for s in self._sources for p in s.properties)

    def view(self, project_id: str | None, *, is_admin: bool = False) -> CatalogView:
        """The definitions that apply to images owned by, or shown to, ``project_id``.

        Public namespaces come first, so a private namespace cannot redefine a
        public property; within each kind the first definition of a name wins.
        """
        key = (project_id, is_admin)
        cached = self._views.get(key)
        if cached is not None:
            return cached
        properties: dict[str, TypedProperty] = {}
        groups: list[RequiredGroup] = []
        for source in self._sources:
            if not (source.public or is_admin or (project_id is not None and source.owner == project_id)):
                continue
            for definition in source.properties:
                properties.setdefault(definition.name, definition)
            groups.extend(source.groups)
        view = CatalogView(properties, tuple(groups))
        if len(self._views) < 4096:
            self._views[key] = view
        return view


def _image_association(contents: NamespaceContents) -> Any:
    return next((a for a in contents.associations if a.name == IMAGE_RESOURCE_TYPE), None)


def _source(contents: NamespaceContents) -> _Source:
    association = _image_association(contents)
    prefix = association.prefix or "" if association else ""
    name = contents.namespace.namespace
    found: list[TypedProperty] = []
    groups: list[RequiredGroup] = []

    def add(source_name: str, definition: Mapping[str, Any], object_name: str | None) -> str | None:
        full = prefix + source_name
        if full in BASE_ATTRIBUTES or is_reserved(full) or not isinstance(definition, Mapping):
            return None  # base attributes have their own rules; reserved names are never properties
        found.append(TypedProperty(full, dict(definition), name, prefix or None, object_name))
        return full

    for definition in contents.properties:
        add(definition.name, definition.schema, None)
    for obj in contents.objects:
        members = {add(key, value, obj.name) for key, value in obj.properties.items()}
        required = tuple(prefix + r for r in obj.required)
        if required:
            groups.append(RequiredGroup(name, obj.name, frozenset(m for m in members if m), required))
    return _Source(name, contents.namespace.owner, contents.namespace.visibility == "public", tuple(found),
                   tuple(groups))
