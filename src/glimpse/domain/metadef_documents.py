"""Metadefs as JSON documents: request bodies and Glance's catalog files in, catalog files out.

A catalog file (``etc/metadefs/*.json`` in Glance) is one namespace with
everything it holds: ``namespace``, ``display_name``, ``description``,
``visibility``, ``protected``, ``owner``, ``resource_type_associations``,
``properties`` (name -> definition), ``objects`` and ``tags``. A namespace
create body has the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glimpse.domain.metadefs import (
    Association,
    MetadefObject,
    MetadefTag,
    Namespace,
    NamespaceContents,
    PropertyDefinition,
)
from glimpse.errors import ReadOnlyAttribute, SchemaViolation

#: Keys a client may never send: the service sets them.
READ_ONLY_KEYS = ("self", "schema", "created_at", "updated_at")


def refuse_read_only(body: Mapping[str, Any], keys: tuple[str, ...] = READ_ONLY_KEYS) -> None:
    """:class:`ReadOnlyAttribute` (403) if ``body`` sets a key only the service sets."""
    for key in keys:
        if key in body:
            raise ReadOnlyAttribute(key)


def namespace_from(body: Mapping[str, Any], default_owner: str | None) -> Namespace:
    """The namespace's own attributes; omitted ones take their defaults (PUT replaces them all)."""
    return Namespace(
        namespace=str(body["namespace"]),
        owner=body.get("owner") or default_owner,
        visibility=body.get("visibility") or "private",
        protected=bool(body.get("protected") or False),
        display_name=body.get("display_name"),
        description=body.get("description"),
    )


def association_from(body: Mapping[str, Any]) -> Association:
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise SchemaViolation("A resource type association needs the resource type's 'name'.")
    return Association(name=body["name"], prefix=body.get("prefix"), properties_target=body.get("properties_target"))


def definition_from(name: str, body: Mapping[str, Any]) -> PropertyDefinition:
    """A property definition; the name is kept apart from the stored definition."""
    return PropertyDefinition(name=name, schema={k: v for k, v in body.items() if k != "name"})


def object_from(body: Mapping[str, Any]) -> MetadefObject:
    properties = body.get("properties") or {}
    return MetadefObject(
        name=str(body["name"]),
        description=body.get("description"),
        required=tuple(body.get("required") or ()),
        properties={k: {x: y for x, y in v.items() if x != "name"} for k, v in properties.items()},
    )


def contents_from(document: Mapping[str, Any], default_owner: str | None) -> NamespaceContents:
    """A whole namespace from a create body or a catalog file (already schema-checked)."""
    objects = []
    for raw in document.get("objects") or []:
        if not isinstance(raw.get("name"), str) or not raw["name"]:
            raise SchemaViolation("Every object of a namespace needs a 'name'.")
        objects.append(object_from(raw))
    tags = []
    for raw in document.get("tags") or []:
        if not isinstance(raw.get("name"), str) or not raw["name"]:
            raise SchemaViolation("Every tag of a namespace needs a 'name'.")
        tags.append(MetadefTag(raw["name"]))
    return NamespaceContents(
        namespace=namespace_from(document, default_owner),
        associations=tuple(association_from(a) for a in document.get("resource_type_associations") or []),
        properties=tuple(definition_from(k, v) for k, v in (document.get("properties") or {}).items()),
        objects=tuple(objects),
        tags=tuple(tags),
    )


# -- out


def namespace_document(namespace: Namespace) -> dict[str, Any]:
    """The namespace's own attributes, unset ones left out (as Glance shows them)."""
    document: dict[str, Any] = {"namespace": namespace.namespace}
    for key in ("display_name", "description"):
        if getattr(namespace, key) is not None:
            document[key] = getattr(namespace, key)
    document["visibility"] = namespace.visibility
    document["protected"] = namespace.protected
    if namespace.owner is not None:
        document["owner"] = namespace.owner
    return document


def association_document(association: Association) -> dict[str, Any]:
    document: dict[str, Any] = {"name": association.name}
    if association.prefix is not None:
        document["prefix"] = association.prefix
    if association.properties_target is not None:
        document["properties_target"] = association.properties_target
    return document


def object_document(obj: MetadefObject) -> dict[str, Any]:
    document: dict[str, Any] = {"name": obj.name}
    if obj.description is not None:
        document["description"] = obj.description
    if obj.required:
        document["required"] = list(obj.required)
    document["properties"] = {k: dict(v) for k, v in obj.properties.items()}
    return document


def catalog_file(contents: NamespaceContents) -> dict[str, Any]:
    """The namespace as a catalog file that ``glimpse-manage metadefs load`` (and Glance) reads back."""
    document = namespace_document(contents.namespace)
    document["resource_type_associations"] = [association_document(a) for a in contents.associations]
    document["properties"] = {p.name: dict(p.schema) for p in contents.properties}
    document["objects"] = [object_document(o) for o in contents.objects]
    if contents.tags:
        document["tags"] = [{"name": t.name} for t in contents.tags]
    return document
