"""Metadata definitions catalog use cases: namespaces, resource types and their associations,
and loading/exporting whole catalog files.

Objects, properties and tags inside a namespace are in :mod:`glimpse.services.metadef_contents`.
Every use case asks the policy (Glance's ``*_metadef_*`` rules) with the
namespace as target; a namespace the caller may not see is reported as not
found, whatever the operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.metadefs import MetadefRepository, NamespaceScope, Page
from glimpse.domain import metadef_schemas as schemas
from glimpse.domain.metadef_documents import (
    association_from,
    catalog_file,
    contents_from,
    namespace_from,
    refuse_read_only,
)
from glimpse.domain.metadefs import (
    Association,
    ListQuery,
    Namespace,
    NamespaceContents,
    ResourceType,
    is_namespace_visible,
    with_prefix,
)
from glimpse.errors import Forbidden, GlimpseError, MetadefNotFound, NamespaceProtected, SchemaViolation
from glimpse.policy import Policy

_NAMESPACE = schemas.BodyValidator(schemas.namespace_schema())
_ASSOCIATION = schemas.BodyValidator(schemas.resource_type_schema())
#: Namespace contents and the rule that governs adding each kind.
_ADD_RULES = {"resource_type_associations": "add_metadef_resource_type_association",
              "objects": "add_metadef_object", "properties": "add_metadef_property", "tags": "add_metadef_tag"}


@dataclass(frozen=True)
class NamespacePage:
    namespaces: list[NamespaceContents]
    next_marker: str | None


class MetadefAccess:
    """Finding a namespace as a caller sees it, and asking the policy about it."""

    def __init__(self, repository: MetadefRepository, policy: Policy) -> None:
        self.repository = repository
        self.policy = policy

    def namespace(self, ctx: RequestContext, name: str, rule: str) -> Namespace:
        """The namespace, if visible and ``rule`` allows; else :class:`MetadefNotFound`/:class:`Forbidden`."""
        namespace = self.repository.get(name)
        if namespace is None or not is_namespace_visible(namespace, ctx.project_id, is_admin=ctx.is_admin):
            raise MetadefNotFound(f"Namespace {name} not found")
        self.enforce(ctx, namespace, rule)
        return namespace

    def enforce(self, ctx: RequestContext, namespace: Namespace | None, rule: str) -> None:
        """Glance's rule: refused on a namespace the caller cannot read means 404, else 403."""
        target = _target(ctx, namespace)
        if self.policy.allowed(rule, ctx, target):
            return
        if namespace is not None and (rule == "get_metadef_namespace"
                                      or not self.policy.allowed("get_metadef_namespace", ctx, target)):
            raise MetadefNotFound(f"Namespace {namespace.namespace} not found")
        raise Forbidden(f"You are not authorized to complete {rule} action.")

    def check_unprotected(self, namespace: Namespace, what: str) -> None:
        if namespace.protected:
            raise NamespaceProtected(f"Metadata definition {what} is protected and cannot be deleted.")


class MetadefService:
    def __init__(self, access: MetadefAccess) -> None:
        self._access = access
        self._repository = access.repository

    # -- namespaces
    def list_namespaces(self, ctx: RequestContext, query: ListQuery) -> NamespacePage:
        """Visible namespaces (with their associations) in the query's order, one page."""
        self._access.enforce(ctx, None, "get_metadef_namespaces")
        self._access.enforce(ctx, None, "list_metadef_resource_types")
        found = self._repository.list_namespaces(
            NamespaceScope(ctx.project_id, ctx.is_admin),
            Page(query.sort_key, query.sort_dir, query.limit, query.marker),
            visibility=query.visibility, resource_types=query.resource_types)
        visible = [c for c in found if self._access.policy.allowed(
            "get_metadef_namespace", ctx, _target(ctx, c.namespace))]
        full = query.limit > 0 and len(found) == query.limit
        return NamespacePage(visible, found[-1].namespace.namespace if full and found else None)

    def get_namespace(self, ctx: RequestContext, name: str, *, resource_type: str | None = None) -> NamespaceContents:
        """The namespace with all it holds; with ``resource_type``, names carry that association's prefix."""
        namespace = self._access.namespace(ctx, name, "get_metadef_namespace")
        for rule in ("list_metadef_resource_types", "get_metadef_objects", "get_metadef_properties",
                     "get_metadef_tags"):
            self._access.enforce(ctx, namespace, rule)
        contents = self._repository.contents(name)
        if contents is None:
            raise MetadefNotFound(f"Namespace {name} not found")
        return with_prefix(contents, resource_type) if resource_type else contents

    def create_namespace(self, ctx: RequestContext, body: Mapping[str, Any]) -> NamespaceContents:
        """Create a namespace, with any associations, properties, objects and tags in the body."""
        refuse_read_only(body)
        _NAMESPACE.validate(dict(body))
        self._access.enforce(ctx, None, "add_metadef_namespace")
        for key, rule in _ADD_RULES.items():
            if body.get(key):
                self._access.enforce(ctx, None, rule)
        return self._repository.add(contents_from(body, ctx.project_id))

    def update_namespace(self, ctx: RequestContext, name: str, body: Mapping[str, Any]) -> Namespace:
        """Replace the namespace's attributes (omitted ones go back to their defaults); contents stay."""
        namespace = self._access.namespace(ctx, name, "get_metadef_namespace")
        refuse_read_only(body)
        _NAMESPACE.validate(dict(body))
        self._access.enforce(ctx, namespace, "modify_metadef_namespace")
        return self._repository.update(name, namespace_from(body, ctx.project_id))

    def delete_namespace(self, ctx: RequestContext, name: str) -> None:
        namespace = self._access.namespace(ctx, name, "get_metadef_namespace")
        self._access.enforce(ctx, namespace, "delete_metadef_namespace")
        self._access.check_unprotected(namespace, f"namespace {name}")
        if not self._repository.delete(name):
            raise MetadefNotFound(f"Namespace {name} not found")

    def delete_contents(self, ctx: RequestContext, name: str, kind: str) -> None:
        """Delete all ``objects``, ``properties`` or ``tags`` of a namespace."""
        namespace = self._access.namespace(ctx, name, "get_metadef_namespace")
        self._access.enforce(ctx, namespace, "delete_metadef_namespace")
        if kind == "tags":
            self._access.enforce(ctx, namespace, "delete_metadef_tags")
        self._access.check_unprotected(namespace, f"namespace {name}")
        self._repository.delete_children(name, kind)

    # -- resource types
    def list_resource_types(self, ctx: RequestContext) -> list[ResourceType]:
        self._access.enforce(ctx, None, "list_metadef_resource_types")
        return self._repository.resource_types()

    def associations(self, ctx: RequestContext, name: str) -> list[Association]:
        namespace = self._access.namespace(ctx, name, "get_metadef_namespace")
        self._access.enforce(ctx, namespace, "list_metadef_resource_types")
        if not self._access.policy.allowed("get_metadef_resource_type", ctx, _target(ctx, namespace)):
            return []
        return self._repository.associations(name)

    def associate(self, ctx: RequestContext, name: str, body: Mapping[str, Any]) -> Association:
        """Associate the namespace with a resource type (created if new)."""
        namespace = self._access.namespace(ctx, name, "get_metadef_namespace")
        refuse_read_only(body, ("created_at", "updated_at"))
        _ASSOCIATION.validate(dict(body))
        self._access.enforce(ctx, namespace, "add_metadef_resource_type_association")
        return self._repository.add_association(name, association_from(body))

    def dissociate(self, ctx: RequestContext, name: str, resource_type: str) -> None:
        namespace = self._access.namespace(ctx, name, "get_metadef_namespace")
        self._access.enforce(ctx, namespace, "remove_metadef_resource_type_association")
        self._access.check_unprotected(namespace, f"resource-type-association {resource_type}")
        if not self._repository.delete_association(name, resource_type):
            raise MetadefNotFound(f"Failed to find resource type {resource_type} to delete")

    # -- whole catalog files (operators: glimpse-manage)
    def load(self, documents: Iterable[tuple[str, Mapping[str, Any]]], *, mode: str = "skip",
             owner: str | None = "admin") -> list[tuple[str, str]]:
        """Load catalog files (``(source, document)`` pairs); each namespace loads whole or not at all.

        Every document is checked first, so a bad file changes nothing.
        Returns ``(namespace, what happened)`` per document.
        """
        parsed = []
        for source, document in documents:
            if not isinstance(document, Mapping):
                raise SchemaViolation(f"{source}: a catalog file holds one JSON object (a namespace)")
            try:
                _NAMESPACE.validate(dict(document))
                parsed.append(contents_from(document, owner))
            except GlimpseError as exc:
                raise SchemaViolation(f"{source}: {exc.message}") from exc
        return [(c.namespace.namespace, self._repository.load(c, mode=mode)) for c in parsed]

    def export(self) -> list[dict[str, Any]]:
        """Every namespace as a catalog file."""
        page = Page(sort_key="namespace", sort_dir="asc")
        result = []
        for listed in self._repository.list_namespaces(NamespaceScope(None, True), page):
            contents = self._repository.contents(listed.namespace.namespace)
            if contents is not None:
                result.append(catalog_file(contents))
        return result

    def unload(self) -> int:
        """Remove the whole catalog; returns how many namespaces went."""
        return self._repository.delete_all()


def _target(ctx: RequestContext, namespace: Namespace | None) -> dict[str, Any]:
    if namespace is None:
        return {"project_id": ctx.project_id}
    return {"project_id": namespace.owner, "visibility": namespace.visibility, "namespace": namespace.namespace}
