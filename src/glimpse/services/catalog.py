"""The image-property catalog as this node uses it: cached, kept current, enforced.

The catalog lives in the database and any node may change it. Each use reads
the catalog revision (one primary-key lookup) and reloads the definitions only
when it moved, so image create/update never reloads the catalog otherwise, and
a change made on any node applies on every node from its next request.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.images import ImageRepository
from glimpse.db.metadefs import MetadefRepository
from glimpse.domain.catalog import CatalogView, ImageCatalog
from glimpse.errors import PropertyValueInvalid


class PropertyCatalog:
    """Typed image-property definitions, checked on every image write."""

    def __init__(self, metadefs: MetadefRepository, images: ImageRepository, *,
                 reject_undefined: bool = False, known: frozenset[str] = frozenset()) -> None:
        self._metadefs = metadefs
        self._images = images
        self._reject_undefined = reject_undefined
        self._known = known
        self._lock = threading.Lock()
        self._catalog = ImageCatalog(-1, [])
        self._strict: tuple[int, frozenset[str]] | None = None
        self.loads = 0  # how often the definitions were read from the database (for tests and benchmarks)

    def current(self) -> ImageCatalog:
        """The catalog at the database's current revision (reloaded only when it moved)."""
        revision = self._metadefs.revision()
        catalog = self._catalog
        if catalog.revision == revision:
            return catalog
        with self._lock:
            if self._catalog.revision != revision:
                loaded_revision, namespaces = self._metadefs.image_catalog()
                self._catalog = ImageCatalog(loaded_revision, namespaces)
                self.loads += 1
            return self._catalog

    def view_for(self, owner: str | None) -> CatalogView:
        """The definitions that images owned by ``owner`` follow."""
        return self.current().view(owner)

    def visible_to(self, ctx: RequestContext) -> CatalogView:
        """The definitions ``ctx`` may learn about (public namespaces and its own)."""
        return self.current().view(ctx.project_id, is_admin=ctx.is_admin)

    # -- enforcement
    def check_changes(self, ctx: RequestContext, owner: str | None, before: Mapping[str, str | None],
                      after: Mapping[str, Any]) -> dict[str, Any]:
        """Check the properties that differ between ``before`` and ``after``; return ``after`` canonical.

        Raises :class:`PropertyValueInvalid` naming the property, the rule
        (``type``, ``enum``, ``minimum``, ..., ``readonly``, ``required``,
        ``defined``) and the value. Values that did not change are not
        re-checked, so images older than a definition stay usable.
        """
        view = self.view_for(owner)
        result = dict(after)
        touched: set[str] = set()
        for name, value in after.items():
            if name in before and before[name] == value:
                continue
            touched.add(name)
            definition = view.get(name)
            if definition is None:
                if self._reject_undefined and name not in self._known:
                    raise PropertyValueInvalid(name, "defined", value,
                                               "no catalog namespace defines this property and this service "
                                               "refuses undefined ones")
                continue
            if definition.readonly and not ctx.is_admin:
                raise PropertyValueInvalid(name, "readonly", value, "the property is read-only")
            if value is None:
                continue  # whether null is allowed is the image schema's question
            result[name] = definition.canonical(value)
            if name in before and before[name] == result[name]:
                touched.discard(name)
        for name in before.keys() - after.keys():
            touched.add(name)
            definition = view.get(name)
            if definition is not None and definition.readonly and not ctx.is_admin:
                raise PropertyValueInvalid(name, "readonly", before[name], "the property is read-only")
        if touched and view.groups:
            view.check_required({k: v for k, v in result.items() if _in_touched_group(view, k, touched)})
        return result

    def canonical_filter(self, ctx: RequestContext, filters: Mapping[str, str]) -> dict[str, str]:
        """List filters on typed properties in canonical form (``hw_cpu_cores=04`` finds ``4``)."""
        view = self.visible_to(ctx)
        canonical = {}
        for name, value in filters.items():
            try:
                canonical[name] = str(view.canonical(name, value))
            except PropertyValueInvalid:
                canonical[name] = value
        return canonical

    # -- the image schema
    def advertised(self, ctx: RequestContext, nullable: frozenset[str]) -> dict[str, dict[str, Any]]:
        """The typed properties ``ctx`` may see, as ``/v2/schemas/image`` shows them."""
        catalog = self.current()
        view = catalog.view(ctx.project_id, is_admin=ctx.is_admin)
        strict = self._strict_names(catalog)
        shown: dict[str, dict[str, Any]] = {}
        for name, definition in view.properties.items():
            document = definition.advertised(strict=name in strict, nullable=name in nullable)
            required_by = view.required_by(name)
            if required_by:
                document["metadef"]["required_by"] = required_by
            shown[name] = document
        return shown

    def _strict_names(self, catalog: ImageCatalog) -> frozenset[str]:
        """Public definitions every stored value satisfies (computed once per catalog revision).

        Values written later satisfy them too, since writes are checked; a
        private namespace does not bind other projects, so its properties are
        never strict.
        """
        cached = self._strict
        if cached is not None and cached[0] == catalog.revision:
            return cached[1]
        public = catalog.view(None)
        failing = {name for name, value in self._images.distinct_property_values(public.properties)
                   if not public.properties[name].conforms(value)}
        strict = frozenset(public.properties.keys() - failing)
        self._strict = (catalog.revision, strict)
        return strict


def _in_touched_group(view: CatalogView, name: str, touched: set[str]) -> bool:
    """Is ``name`` in a required group that this change touched?"""
    return any(name in g.members or name in g.required for g in view.groups
               if touched & (g.members | set(g.required)))

