"""What a metadefs namespace holds: objects, property definitions and tags.

The namespace is found (and its visibility and policy checked) first, through
:class:`~glimpse.services.metadefs.MetadefAccess`; a protected namespace keeps
its contents from being deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.metadefs import Page
from glimpse.domain import metadef_schemas as schemas
from glimpse.domain.metadef_documents import definition_from, object_from, refuse_read_only
from glimpse.domain.metadefs import ListQuery, MetadefObject, MetadefTag, PropertyDefinition
from glimpse.errors import MetadefNotFound, SchemaViolation
from glimpse.services.metadefs import MetadefAccess

_OBJECT = schemas.BodyValidator(schemas.object_schema())
_PROPERTY = schemas.BodyValidator(schemas.property_schema())
_NAMELESS_PROPERTY = schemas.BodyValidator(schemas.property_schema(require_name=False))
_TAG = schemas.BodyValidator(schemas.tag_schema())
_TAG_LIST = schemas.BodyValidator(schemas.tag_list_body_schema())
_STAMPS = ("created_at", "updated_at")


class MetadefContentService:
    def __init__(self, access: MetadefAccess) -> None:
        self._access = access
        self._repository = access.repository

    # -- objects
    def list_objects(self, ctx: RequestContext, namespace: str) -> list[MetadefObject]:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "get_metadef_objects")
        if not self._access.policy.allowed("get_metadef_object", ctx, _target(found.owner, found.visibility)):
            return []
        return self._repository.objects(namespace)

    def get_object(self, ctx: RequestContext, namespace: str, name: str) -> MetadefObject:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "get_metadef_object")
        obj = self._repository.get_object(namespace, name)
        if obj is None:
            raise MetadefNotFound(f"Could not find metadata definition object {name} in namespace {namespace}.")
        return obj

    def create_object(self, ctx: RequestContext, namespace: str, body: Mapping[str, Any]) -> MetadefObject:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        _check_object(body)
        self._access.enforce(ctx, found, "add_metadef_object")
        return self._repository.add_object(namespace, object_from(body))

    def update_object(self, ctx: RequestContext, namespace: str, name: str, body: Mapping[str, Any]) -> MetadefObject:
        """Replace the object (a rename included)."""
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        _check_object(body)
        self._access.enforce(ctx, found, "modify_metadef_object")
        return self._repository.update_object(namespace, name, object_from(body))

    def delete_object(self, ctx: RequestContext, namespace: str, name: str) -> None:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "delete_metadef_object")
        self._access.check_unprotected(found, f"object {name}")
        if not self._repository.delete_child(namespace, "objects", name):
            raise MetadefNotFound(f"Could not find metadata definition object {name} in namespace {namespace}.")

    # -- property definitions
    def list_properties(self, ctx: RequestContext, namespace: str) -> list[PropertyDefinition]:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "get_metadef_properties")
        return self._repository.properties(namespace)

    def get_property(self, ctx: RequestContext, namespace: str, name: str, *,
                     resource_type: str | None = None) -> PropertyDefinition:
        """One definition; with ``resource_type`` the name is given with that association's prefix."""
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "get_metadef_property")
        if resource_type:
            self._access.enforce(ctx, found, "get_metadef_resource_type")
            association = next((a for a in self._repository.associations(namespace) if a.name == resource_type),
                               None)
            if association is None:
                raise MetadefNotFound(f"Namespace {namespace} is not associated with resource type {resource_type}.")
            prefix = association.prefix or ""
            if not prefix or not name.startswith(prefix):
                raise MetadefNotFound(f"Property {name} does not start with the expected resource type "
                                      f"association prefix of '{prefix}'.")
            name = name[len(prefix):]
        definition = self._repository.get_property(namespace, name)
        if definition is None:
            raise MetadefNotFound(f"Could not find property {name}")
        return definition

    def create_property(self, ctx: RequestContext, namespace: str, body: Mapping[str, Any]) -> PropertyDefinition:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        refuse_read_only(body, _STAMPS)
        _PROPERTY.validate(dict(body))
        self._access.enforce(ctx, found, "add_metadef_property")
        return self._repository.add_property(namespace, definition_from(str(body["name"]), body))

    def update_property(self, ctx: RequestContext, namespace: str, name: str,
                        body: Mapping[str, Any]) -> PropertyDefinition:
        """Replace the definition (a rename included)."""
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        refuse_read_only(body, _STAMPS)
        _PROPERTY.validate(dict(body))
        self._access.enforce(ctx, found, "modify_metadef_property")
        return self._repository.update_property(namespace, name, definition_from(str(body["name"]), body))

    def delete_property(self, ctx: RequestContext, namespace: str, name: str) -> None:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "remove_metadef_property")
        self._access.check_unprotected(found, f"property {name}")
        if not self._repository.delete_child(namespace, "properties", name):
            raise MetadefNotFound(f"Could not find property {name}")

    # -- tags
    def list_tags(self, ctx: RequestContext, namespace: str, query: ListQuery) -> list[MetadefTag]:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "get_metadef_tags")
        return self._repository.tags(namespace, Page(query.sort_key, query.sort_dir, query.limit or None,
                                                     query.marker))

    def get_tag(self, ctx: RequestContext, namespace: str, name: str) -> MetadefTag:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "get_metadef_tag")
        tag = self._repository.get_tag(namespace, name)
        if tag is None:
            raise MetadefNotFound(f"Could not find metadata tag {name} in namespace {namespace}.")
        return tag

    def create_tag(self, ctx: RequestContext, namespace: str, name: str) -> MetadefTag:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        _check_tag_name(name)
        self._access.enforce(ctx, found, "add_metadef_tag")
        return self._repository.add_tag(namespace, name)

    def create_tags(self, ctx: RequestContext, namespace: str, body: Mapping[str, Any], *,
                    append: bool = False) -> list[MetadefTag]:
        """Set the namespace's tags to those in ``{"tags": [{"name": …}]}``, or add them with ``append``."""
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        refuse_read_only(body, _STAMPS)
        _TAG_LIST.validate(dict(body))
        names: Sequence[str] = [t["name"] for t in body.get("tags") or []]
        for name in names:
            _check_tag_name(name)
        self._access.enforce(ctx, found, "add_metadef_tags")
        return self._repository.set_tags(namespace, names, append=append)

    def rename_tag(self, ctx: RequestContext, namespace: str, name: str, body: Mapping[str, Any]) -> MetadefTag:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        refuse_read_only(body, _STAMPS)
        _TAG.validate(dict(body))
        _check_tag_name(body["name"])
        self._access.enforce(ctx, found, "modify_metadef_tag")
        return self._repository.rename_tag(namespace, name, body["name"])

    def delete_tag(self, ctx: RequestContext, namespace: str, name: str) -> None:
        found = self._access.namespace(ctx, namespace, "get_metadef_namespace")
        self._access.enforce(ctx, found, "delete_metadef_tag")
        self._access.check_unprotected(found, f"tag {name}")
        if not self._repository.delete_child(namespace, "tags", name):
            raise MetadefNotFound(f"Could not find metadata tag {name} in namespace {namespace}.")


def _target(owner: str | None, visibility: str) -> dict[str, Any]:
    return {"project_id": owner, "visibility": visibility}


def _check_object(body: Mapping[str, Any]) -> None:
    refuse_read_only(body)
    _OBJECT.validate(dict(body))
    for name, definition in (body.get("properties") or {}).items():
        try:
            _NAMELESS_PROPERTY.validate(definition)
        except SchemaViolation as exc:
            raise SchemaViolation(f"Property '{name}' of the object: {exc.message}") from None


def _check_tag_name(name: str) -> None:
    if not name or len(name) > 80:
        raise SchemaViolation("A tag name must be between 1 and 80 characters long.")
