"""How metadefs look in API bodies (Glance's shapes: unset attributes are left out)."""

from __future__ import annotations

from typing import Any

from glimpse.api.v2.views import isotime
from glimpse.domain.metadef_documents import (
    association_document,
    namespace_document,
    object_document,
)
from glimpse.domain.metadefs import (
    Association,
    MetadefObject,
    MetadefTag,
    Namespace,
    NamespaceContents,
    PropertyDefinition,
    ResourceType,
)

NAMESPACE_SCHEMA = "/v2/schemas/metadefs/namespace"
OBJECT_SCHEMA = "/v2/schemas/metadefs/object"


def _stamps(document: dict[str, Any], item: Any) -> dict[str, Any]:
    for key in ("created_at", "updated_at"):
        moment = getattr(item, key)
        if moment is not None:
            document[key] = isotime(moment)
    return document


def namespace_href(name: str) -> str:
    return f"/v2/metadefs/namespaces/{name}"


def namespace_view(namespace: Namespace) -> dict[str, Any]:
    document = _stamps(namespace_document(namespace), namespace)
    document["self"] = namespace_href(namespace.namespace)
    document["schema"] = NAMESPACE_SCHEMA
    return document


def association_view(association: Association) -> dict[str, Any]:
    return _stamps(association_document(association), association)


def resource_type_view(resource_type: ResourceType) -> dict[str, Any]:
    return _stamps({"name": resource_type.name}, resource_type)


def definition_view(definition: PropertyDefinition, *, named: bool = True) -> dict[str, Any]:
    return {"name": definition.name, **definition.schema} if named else dict(definition.schema)


def object_view(namespace: str, obj: MetadefObject) -> dict[str, Any]:
    document = _stamps(object_document(obj), obj)
    document["self"] = f"{namespace_href(namespace)}/objects/{obj.name}"
    document["schema"] = OBJECT_SCHEMA
    return document


def tag_view(tag: MetadefTag) -> dict[str, Any]:
    return _stamps({"name": tag.name}, tag)


def contents_view(contents: NamespaceContents, *, detail: bool = True) -> dict[str, Any]:
    """A namespace with its associations, and (``detail``) its properties, objects and tags."""
    document = namespace_view(contents.namespace)
    links = {"self": document.pop("self"), "schema": document.pop("schema")}
    if contents.associations:
        document["resource_type_associations"] = [association_view(a) for a in contents.associations]
    if detail:
        if contents.properties:
            document["properties"] = {p.name: definition_view(p, named=False) for p in contents.properties}
        if contents.objects:
            document["objects"] = [object_view(contents.namespace.namespace, o) for o in contents.objects]
        if contents.tags:
            document["tags"] = [{"name": t.name} for t in contents.tags]
    document.update(links)
    return document
