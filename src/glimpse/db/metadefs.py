"""The metadefs repository: namespaces and their associations, properties, objects and tags.

Every write bumps the catalog revision in the same transaction, so a node that
caches the catalog knows, with one cheap read, when to load it again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from glimpse.db.engine import Database, retry_on_conflict
from glimpse.clock import utcnow
from glimpse.db.sqlite_reads import hot_read
from glimpse.db.tables import (
    metadef_catalog,
    metadef_namespace_resource_types,
    metadef_namespaces,
    metadef_objects,
    metadef_properties,
    metadef_resource_types,
    metadef_tags,
)
from glimpse.domain.metadefs import (
    IMAGE_RESOURCE_TYPE,
    Association,
    MetadefObject,
    MetadefTag,
    Namespace,
    NamespaceContents,
    PropertyDefinition,
    ResourceType,
)
from glimpse.errors import DuplicateMetadef, MetadefNotFound

T = TypeVar("T")
_ns = metadef_namespaces
_rt = metadef_resource_types
_assoc = metadef_namespace_resource_types
_props = metadef_properties
_objs = metadef_objects
_tags = metadef_tags
#: Child tables, by the name the API uses for them.
CHILDREN = {"properties": _props, "objects": _objs, "tags": _tags}


@dataclass(frozen=True)
class NamespaceScope:
    """Which namespaces a listing may return: admins see all, others public ones and their own."""

    project_id: str | None
    is_admin: bool


@dataclass(frozen=True)
class Page:
    """Sorting and paging of a listing; ``marker`` is the last name of the previous page."""

    sort_key: str = "created_at"
    sort_dir: str = "desc"
    limit: int | None = None
    marker: str | None = None


#: Read before every check of image properties against the catalog: built once, plain sqlite3 on SQLite.
_REVISION = hot_read(sa.select(metadef_catalog.c.revision).where(metadef_catalog.c.id == 1))


class MetadefRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the catalog revision
    def revision(self) -> int:
        found = self._db.rows(_REVISION)
        return int(found[0][0] or 0) if found else 0

    # -- namespaces
    def get(self, name: str) -> Namespace | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_ns).where(_ns.c.namespace == name)).first()
        return _namespace(row) if row else None

    def list_namespaces(self, scope: NamespaceScope, page: Page, *, visibility: str | None = None,
                        resource_types: Sequence[str] = ()) -> list[NamespaceContents]:
        """Namespaces with their associations (not their other contents)."""
        conditions: list[sa.ColumnElement[bool]] = []
        if not scope.is_admin:
            conditions.append(sa.or_(_ns.c.visibility == "public", _ns.c.owner.is_(None),
                                     _ns.c.owner == scope.project_id if scope.project_id else sa.false()))
        if visibility is not None:
            conditions.append(_ns.c.visibility == visibility)
        if resource_types:
            conditions.append(sa.exists().where(
                _assoc.c.namespace_id == _ns.c.id, _assoc.c.resource_type_id == _rt.c.id,
                _rt.c.name.in_(list(resource_types))))
        with self._db.read() as conn:
            if page.marker is not None:
                marker = conn.execute(sa.select(_ns).where(_ns.c.namespace == page.marker)).first()
                if marker is None:
                    raise MetadefNotFound(f"Metadata definition namespace={page.marker} was not found.")
                conditions.append(_after(_ns, page, marker))
            statement = sa.select(_ns).where(*conditions).order_by(*_order(_ns, page))
            if page.limit is not None:
                statement = statement.limit(page.limit)
            rows = conn.execute(statement).all()
            associations = _associations(conn, [r.id for r in rows])
        return [NamespaceContents(_namespace(r), tuple(associations[r.id])) for r in rows]

    def contents(self, name: str) -> NamespaceContents | None:
        """The namespace with everything it holds."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(_ns).where(_ns.c.namespace == name)).first()
            if row is None:
                return None
            return _contents(conn, [row])[0]

    def image_catalog(self) -> tuple[int, list[NamespaceContents]]:
        """The catalog revision and every namespace associated with images, read together."""
        with self._db.read() as conn:
            revision = conn.execute(sa.select(metadef_catalog.c.revision)).scalar()
            rows = conn.execute(
                sa.select(_ns).where(sa.exists().where(
                    _assoc.c.namespace_id == _ns.c.id, _assoc.c.resource_type_id == _rt.c.id,
                    _rt.c.name == IMAGE_RESOURCE_TYPE)).order_by(_ns.c.namespace)).all()
            return int(revision or 0), _contents(conn, rows)

    @retry_on_conflict
    def add(self, contents: NamespaceContents) -> NamespaceContents:
        """Create a namespace with its contents in one transaction; :class:`DuplicateMetadef` on a clash."""
        now = utcnow()
        try:
            with self._db.write() as conn:
                namespace_id = _insert_namespace(conn, contents.namespace, now)
                _insert_contents(conn, namespace_id, contents, now)
                _bump(conn)
        except IntegrityError as exc:
            raise _duplicate(exc, contents.namespace.namespace) from None
        stored = self.contents(contents.namespace.namespace)
        assert stored is not None
        return stored

    @retry_on_conflict
    def load(self, contents: NamespaceContents, *, mode: str = "skip") -> str:
        """Load a whole namespace (the catalog loader) in one transaction.

        A new namespace is created. An existing one is left alone (``skip``),
        replaced with ``contents`` (``overwrite``), given what it lacks
        (``merge``), or given what it lacks with its existing definitions
        replaced by the file's (``prefer-new``). Returns what happened:
        ``created``, ``skipped``, ``replaced`` or ``merged``.
        """
        now = utcnow()
        with self._db.write() as conn:
            row = conn.execute(sa.select(_ns.c.id).where(_ns.c.namespace == contents.namespace.namespace)).first()
            if row is not None and mode == "skip":
                return "skipped"
            if row is not None and mode == "overwrite":
                conn.execute(_ns.delete().where(_ns.c.id == row.id))
            if row is None or mode == "overwrite":
                namespace_id = _insert_namespace(conn, contents.namespace, now)
                _insert_contents(conn, namespace_id, contents, now)
                _bump(conn)
                return "created" if row is None else "replaced"
            _merge_contents(conn, int(row.id), contents, now, prefer_new=mode == "prefer-new")
            _bump(conn)
        return "merged"

    @retry_on_conflict
    def update(self, name: str, namespace: Namespace) -> Namespace:
        """Replace the namespace's own attributes (rename allowed); its contents stay."""
        now = utcnow()
        try:
            with self._db.write() as conn:
                result = conn.execute(_ns.update().where(_ns.c.namespace == name).values(
                    namespace=namespace.namespace, display_name=namespace.display_name,
                    description=namespace.description, visibility=namespace.visibility,
                    protected=namespace.protected, owner=namespace.owner, updated_at=now))
                if result.rowcount != 1:
                    raise MetadefNotFound(f"Namespace {name} not found")
                _bump(conn)
        except IntegrityError:
            raise DuplicateMetadef(
                f"The metadata definition namespace={namespace.namespace} already exists.") from None
        stored = self.get(namespace.namespace)
        assert stored is not None
        return stored

    def delete(self, name: str) -> bool:
        with self._db.write() as conn:
            deleted = conn.execute(_ns.delete().where(_ns.c.namespace == name)).rowcount == 1
            if deleted:
                _bump(conn)
        return deleted

    def delete_children(self, name: str, kind: str) -> None:
        """Delete all ``properties``, ``objects`` or ``tags`` of a namespace."""
        table = CHILDREN[kind]
        with self._db.write() as conn:
            conn.execute(table.delete().where(table.c.namespace_id == _namespace_id(conn, name)))
            _bump(conn)

    def delete_all(self) -> int:
        """Remove every namespace and resource type (``glimpse-manage metadefs unload``)."""
        with self._db.write() as conn:
            count = conn.execute(_ns.delete()).rowcount
            conn.execute(_rt.delete())
            _bump(conn)
        return int(count)

    # -- resource types and associations
    def resource_types(self) -> list[ResourceType]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_rt).order_by(_rt.c.id)).all()
        return [ResourceType(r.name, bool(r.protected), r.created_at, r.updated_at) for r in rows]

    def associations(self, name: str) -> list[Association]:
        with self._db.read() as conn:
            namespace_id = _namespace_id(conn, name)
            return _associations(conn, [namespace_id])[namespace_id]

    @retry_on_conflict
    def add_association(self, name: str, association: Association) -> Association:
        now = utcnow()
        try:
            with self._db.write() as conn:
                namespace_id = _namespace_id(conn, name)
                _insert_association(conn, namespace_id, association, now)
                _bump(conn)
        except IntegrityError:
            raise DuplicateMetadef(
                f"The metadata definition resource-type association of resource-type={association.name} "
                f"to namespace={name} already exists.") from None
        return Association(association.name, association.prefix, association.properties_target, now, now)

    def delete_association(self, name: str, resource_type: str) -> bool:
        with self._db.write() as conn:
            namespace_id = _namespace_id(conn, name)
            type_id = conn.execute(sa.select(_rt.c.id).where(_rt.c.name == resource_type)).scalar()
            if type_id is None:
                return False
            deleted = conn.execute(_assoc.delete().where(_assoc.c.namespace_id == namespace_id,
                                                         _assoc.c.resource_type_id == type_id)).rowcount == 1
            if deleted:
                _bump(conn)
        return deleted

    # -- properties
    def properties(self, name: str) -> list[PropertyDefinition]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_props).where(_props.c.namespace_id == _namespace_id(conn, name))
                                .order_by(_props.c.id)).all()
        return [_property(r) for r in rows]

    def get_property(self, name: str, property_name: str) -> PropertyDefinition | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_props).where(_props.c.namespace_id == _namespace_id(conn, name),
                                                       _props.c.name == property_name)).first()
        return _property(row) if row else None

    def add_property(self, name: str, definition: PropertyDefinition) -> PropertyDefinition:
        return self._add_child(name, _props, {"name": definition.name, "json_schema": definition.schema},
                               f"A metadata definition property with name={definition.name} already exists in "
                               f"namespace={name}.", lambda: self.get_property(name, definition.name))

    def update_property(self, name: str, property_name: str, definition: PropertyDefinition) -> PropertyDefinition:
        return self._update_child(name, _props, property_name,
                                  {"name": definition.name, "json_schema": definition.schema},
                                  f"Could not find property {property_name}",
                                  f"A metadata definition property with name={definition.name} already exists "
                                  f"in namespace={name}.", lambda: self.get_property(name, definition.name))

    # -- objects
    def objects(self, name: str) -> list[MetadefObject]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_objs).where(_objs.c.namespace_id == _namespace_id(conn, name))
                                .order_by(_objs.c.id)).all()
        return [_object(r) for r in rows]

    def get_object(self, name: str, object_name: str) -> MetadefObject | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_objs).where(_objs.c.namespace_id == _namespace_id(conn, name),
                                                      _objs.c.name == object_name)).first()
        return _object(row) if row else None

    def add_object(self, name: str, obj: MetadefObject) -> MetadefObject:
        return self._add_child(name, _objs, _object_values(obj),
                               f"A metadata definition object with name={obj.name} already exists in "
                               f"namespace={name}.", lambda: self.get_object(name, obj.name))

    def update_object(self, name: str, object_name: str, obj: MetadefObject) -> MetadefObject:
        return self._update_child(name, _objs, object_name, _object_values(obj),
                                  f"Could not find metadata definition object {object_name} in namespace {name}.",
                                  f"A metadata definition object with name={obj.name} already exists in "
                                  f"namespace={name}.", lambda: self.get_object(name, obj.name))

    # -- tags
    def tags(self, name: str, page: Page | None = None) -> list[MetadefTag]:
        page = page or Page(sort_key="created_at", sort_dir="asc")
        with self._db.read() as conn:
            conditions: list[sa.ColumnElement[bool]] = [_tags.c.namespace_id == _namespace_id(conn, name)]
            if page.marker is not None:
                marker = conn.execute(sa.select(_tags).where(conditions[0], _tags.c.name == page.marker)).first()
                if marker is None:
                    raise MetadefNotFound(f"Metadata tag {page.marker} not found in namespace {name}.")
                conditions.append(_after(_tags, page, marker))
            statement = sa.select(_tags).where(*conditions).order_by(*_order(_tags, page))
            if page.limit is not None:
                statement = statement.limit(page.limit)
            rows = conn.execute(statement).all()
        return [MetadefTag(r.name, r.created_at, r.updated_at) for r in rows]

    def get_tag(self, name: str, tag: str) -> MetadefTag | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_tags).where(_tags.c.namespace_id == _namespace_id(conn, name),
                                                      _tags.c.name == tag)).first()
        return MetadefTag(row.name, row.created_at, row.updated_at) if row else None

    def add_tag(self, name: str, tag: str) -> MetadefTag:
        return self._add_child(name, _tags, {"name": tag}, _tag_exists(tag, name), lambda: self.get_tag(name, tag))

    @retry_on_conflict
    def set_tags(self, name: str, tags: Sequence[str], *, append: bool) -> list[MetadefTag]:
        """Add ``tags``, first removing all others unless ``append``; all or nothing."""
        now = utcnow()
        try:
            with self._db.write() as conn:
                namespace_id = _namespace_id(conn, name)
                if not append:
                    conn.execute(_tags.delete().where(_tags.c.namespace_id == namespace_id))
                for tag in tags:
                    current = tag
                    conn.execute(_tags.insert().values(namespace_id=namespace_id, name=tag, created_at=now,
                                                       updated_at=now))
                _bump(conn)
        except IntegrityError:
            raise DuplicateMetadef(_tag_exists(current, name)) from None
        return [MetadefTag(t, now, now) for t in tags]

    def rename_tag(self, name: str, tag: str, new_name: str) -> MetadefTag:
        return self._update_child(name, _tags, tag, {"name": new_name},
                                  f"Could not find metadata tag {tag} in namespace {name}.",
                                  _tag_exists(new_name, name), lambda: self.get_tag(name, new_name))

    def delete_child(self, name: str, kind: str, child: str) -> bool:
        table = CHILDREN[kind]
        with self._db.write() as conn:
            deleted = conn.execute(table.delete().where(table.c.namespace_id == _namespace_id(conn, name),
                                                        table.c.name == child)).rowcount == 1
            if deleted:
                _bump(conn)
        return deleted

    # -- helpers shared by the child kinds
    @retry_on_conflict
    def _add_child(self, name: str, table: sa.Table, values: dict[str, Any], duplicate: str,
                   reread: Callable[[], T | None]) -> T:
        now = utcnow()
        try:
            with self._db.write() as conn:
                conn.execute(table.insert().values(namespace_id=_namespace_id(conn, name), created_at=now,
                                                   updated_at=now, **values))
                _bump(conn)
        except IntegrityError:
            raise DuplicateMetadef(duplicate) from None
        return _found(reread(), duplicate)

    @retry_on_conflict
    def _update_child(self, name: str, table: sa.Table, child: str, values: dict[str, Any], missing: str,
                      duplicate: str, reread: Callable[[], T | None]) -> T:
        try:
            with self._db.write() as conn:
                result = conn.execute(table.update().where(table.c.namespace_id == _namespace_id(conn, name),
                                                           table.c.name == child)
                                      .values(updated_at=utcnow(), **values))
                if result.rowcount != 1:
                    raise MetadefNotFound(missing)
                _bump(conn)
        except IntegrityError:
            raise DuplicateMetadef(duplicate) from None
        return _found(reread(), missing)


def _found(item: T | None, message: str) -> T:
    """A child just written, read back; gone again only if deleted meanwhile."""
    if item is None:
        raise MetadefNotFound(message)
    return item


def _tag_exists(tag: str, name: str) -> str:
    return f"A metadata tag with name={tag} already exists in namespace={name}."


def _bump(conn: Connection) -> None:
    if conn.execute(metadef_catalog.update().where(metadef_catalog.c.id == 1)
                    .values(revision=metadef_catalog.c.revision + 1)).rowcount == 0:
        conn.execute(metadef_catalog.insert().values(id=1, revision=1))


def _namespace_id(conn: Connection, name: str) -> int:
    found = conn.execute(sa.select(_ns.c.id).where(_ns.c.namespace == name)).scalar()
    if found is None:
        raise MetadefNotFound(f"Namespace {name} not found")
    return int(found)


def _duplicate(exc: IntegrityError, name: str) -> DuplicateMetadef:
    return DuplicateMetadef(f"The metadata definition namespace={name} already exists, or it repeats a name "
                            f"among its contents ({exc.orig.__class__.__name__}).")


def _insert_namespace(conn: Connection, namespace: Namespace, now: dt.datetime) -> int:
    result = conn.execute(_ns.insert().values(
        namespace=namespace.namespace, display_name=namespace.display_name, description=namespace.description,
        visibility=namespace.visibility, protected=namespace.protected, owner=namespace.owner,
        created_at=now, updated_at=now))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _insert_contents(conn: Connection, namespace_id: int, contents: NamespaceContents, now: dt.datetime) -> None:
    for association in contents.associations:
        _insert_association(conn, namespace_id, association, now)
    stamps = {"namespace_id": namespace_id, "created_at": now, "updated_at": now}
    if contents.properties:
        conn.execute(_props.insert(), [{**stamps, "name": p.name, "json_schema": p.schema}
                                       for p in contents.properties])
    if contents.objects:
        conn.execute(_objs.insert(), [{**stamps, **_object_values(o)} for o in contents.objects])
    if contents.tags:
        conn.execute(_tags.insert(), [{**stamps, "name": t.name} for t in contents.tags])


def _merge_contents(conn: Connection, namespace_id: int, contents: NamespaceContents, now: dt.datetime, *,
                    prefer_new: bool) -> None:
    def existing(table: sa.Table) -> set[str]:
        return set(conn.execute(sa.select(table.c.name).where(table.c.namespace_id == namespace_id)).scalars())

    if prefer_new:
        namespace = contents.namespace
        conn.execute(_ns.update().where(_ns.c.id == namespace_id).values(
            display_name=namespace.display_name, description=namespace.description,
            visibility=namespace.visibility, protected=namespace.protected, updated_at=now))
    present = {a.name for a in _associations(conn, [namespace_id])[namespace_id]}
    for association in contents.associations:
        if association.name not in present:
            _insert_association(conn, namespace_id, association, now)
        elif prefer_new:
            type_id = conn.execute(sa.select(_rt.c.id).where(_rt.c.name == association.name)).scalar()
            conn.execute(_assoc.update().where(_assoc.c.namespace_id == namespace_id,
                                               _assoc.c.resource_type_id == type_id)
                         .values(prefix=association.prefix, properties_target=association.properties_target,
                                 updated_at=now))
    stamps = {"namespace_id": namespace_id, "created_at": now, "updated_at": now}
    for table, items in ((_props, [(p.name, {"json_schema": p.schema}) for p in contents.properties]),
                         (_objs, [(o.name, _object_values(o)) for o in contents.objects]),
                         (_tags, [(t.name, {}) for t in contents.tags])):
        names = existing(table)
        for name, values in items:
            if name not in names:
                conn.execute(table.insert().values(**stamps, **{"name": name, **values}))
            elif prefer_new and values:
                conn.execute(table.update().where(table.c.namespace_id == namespace_id, table.c.name == name)
                             .values(updated_at=now, **values))


def _insert_association(conn: Connection, namespace_id: int, association: Association, now: dt.datetime) -> None:
    type_id = conn.execute(sa.select(_rt.c.id).where(_rt.c.name == association.name)).scalar()
    if type_id is None:
        key = conn.execute(_rt.insert().values(name=association.name, protected=False, created_at=now,
                                               updated_at=now)).inserted_primary_key
        assert key is not None
        type_id = key[0]
    conn.execute(_assoc.insert().values(namespace_id=namespace_id, resource_type_id=type_id,
                                        prefix=association.prefix, properties_target=association.properties_target,
                                        created_at=now, updated_at=now))


def _object_values(obj: MetadefObject) -> dict[str, Any]:
    return {"name": obj.name, "description": obj.description, "required": list(obj.required),
            "json_schema": obj.properties}


def _namespace(row: Row[Any]) -> Namespace:
    return Namespace(namespace=row.namespace, owner=row.owner, visibility=row.visibility,
                     protected=bool(row.protected), display_name=row.display_name, description=row.description,
                     created_at=row.created_at, updated_at=row.updated_at)


def _property(row: Row[Any]) -> PropertyDefinition:
    return PropertyDefinition(row.name, dict(row.json_schema or {}), row.created_at, row.updated_at)


def _object(row: Row[Any]) -> MetadefObject:
    return MetadefObject(row.name, row.description, tuple(row.required or ()), dict(row.json_schema or {}),
                         row.created_at, row.updated_at)


def _associations(conn: Connection, namespace_ids: Iterable[int]) -> dict[int, list[Association]]:
    ids = list(namespace_ids)
    found: dict[int, list[Association]] = defaultdict(list)
    for i in ids:
        found[i] = []
    if not ids:
        return found
    rows = conn.execute(sa.select(_assoc, _rt.c.name).join(_rt, _rt.c.id == _assoc.c.resource_type_id)
                        .where(_assoc.c.namespace_id.in_(ids)).order_by(_assoc.c.created_at, _rt.c.id)).all()
    for r in rows:
        found[r.namespace_id].append(Association(r.name, r.prefix, r.properties_target, r.created_at, r.updated_at))
    return found


def _contents(conn: Connection, rows: Sequence[Row[Any]]) -> list[NamespaceContents]:
    ids = [r.id for r in rows]
    associations = _associations(conn, ids)
    properties: dict[int, list[PropertyDefinition]] = defaultdict(list)
    objects: dict[int, list[MetadefObject]] = defaultdict(list)
    tags: dict[int, list[MetadefTag]] = defaultdict(list)
    if ids:
        for r in conn.execute(sa.select(_props).where(_props.c.namespace_id.in_(ids)).order_by(_props.c.id)):
            properties[r.namespace_id].append(_property(r))
        for r in conn.execute(sa.select(_objs).where(_objs.c.namespace_id.in_(ids)).order_by(_objs.c.id)):
            objects[r.namespace_id].append(_object(r))
        for r in conn.execute(sa.select(_tags).where(_tags.c.namespace_id.in_(ids)).order_by(_tags.c.id)):
            tags[r.namespace_id].append(MetadefTag(r.name, r.created_at, r.updated_at))
    return [NamespaceContents(_namespace(r), tuple(associations[r.id]), tuple(properties[r.id]),
                              tuple(objects[r.id]), tuple(tags[r.id])) for r in rows]


def _order(table: sa.Table, page: Page) -> list[sa.ColumnElement[Any]]:
    columns = [table.c[page.sort_key]] + [table.c[k] for k in ("created_at", "id") if k != page.sort_key]
    return [c.asc() if page.sort_dir == "asc" else c.desc() for c in columns]


def _after(table: sa.Table, page: Page, marker: Row[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after ``marker`` in the page's order (keyset pagination)."""
    keys = [page.sort_key] + [k for k in ("created_at", "id") if k != page.sort_key]
    alternatives = []
    for i, key in enumerate(keys):
        column = table.c[key]
        equal = [table.c[k] == getattr(marker, k) for k in keys[:i]]
        beyond = column > getattr(marker, key) if page.sort_dir == "asc" else column < getattr(marker, key)
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)
