"""The SQL of image listings, built once per shape of query.

A listing's statement depends on the query's *shape* (which filters and how
many values each, the sort, whose view, whether a marker is given and which of
its sort values are null) and on *values* (the project, the filter values, the
marker's sort values, the limit). Building a SQLAlchemy statement costs about
a millisecond, several times what SQLite needs to find a page, so each shape is
built once with every value a named bind parameter and kept (with its SQLite
text); a listing then only computes its values.

The statement selects the keys of a page's images (id, revision, created_at):
the images themselves usually come from the per-process cache
(:mod:`glimpse.db.image_cache`) at exactly those versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from glimpse.db.sqlite_reads import SqliteStatement, compile_for_sqlite
from glimpse.db.tables import image_members, image_properties, image_tags, images
from glimpse.domain.images import Image, ImageStatus, PropertyVisibility, Visibility
from glimpse.domain.queries import ImageQuery, TimeFilter
from glimpse.lru import LruCache

_NULLABLE_SORT_KEYS = frozenset({"name", "container_format", "disk_format", "size"})
_ONE_SECOND = dt.timedelta(seconds=1)
#: Distinct query shapes each process keeps the statement of.
STATEMENT_CACHE_SIZE = 256


@dataclass(frozen=True)
class ListScope:
    """Whose view a list is computed for."""

    project_id: str | None
    is_admin: bool


@dataclass(frozen=True)
class PageStatement:
    """The statement of one query shape, for SQLAlchemy and for :class:`~glimpse.db.sqlite_reads.SqliteReads`."""

    statement: sa.Select[Any]
    sqlite: SqliteStatement


_STATEMENTS: LruCache[tuple[Any, ...], PageStatement] = LruCache(STATEMENT_CACHE_SIZE)


def page_statement(query: ImageQuery, scope: ListScope, marker: Image | None) -> tuple[PageStatement, dict[str, Any]]:
    """The keys of one page of images matching ``query`` as seen by ``scope``, after ``marker``:
    the statement, and the values of its parameters."""
    shape = _shape(query, scope, marker)
    found = _STATEMENTS.get(shape)
    if found is None:
        statement = _build(query, scope, marker)
        found = PageStatement(statement, compile_for_sqlite(statement))
        _STATEMENTS.put(shape, found)
    return found, _values(query, scope, marker)


def _shape(query: ImageQuery, scope: ListScope, marker: Image | None) -> tuple[Any, ...]:
    return (
        query.sort, query.visibility, query.member_status, query.os_hidden, query.protected,
        tuple((column, len(values)) for column, values in query.columns.items()),
        tuple(query.integers), query.size_min is None, query.size_max is None, len(query.tags),
        len(query.properties), tuple((t.column, t.operator, t.whole_second) for t in query.times),
        scope.is_admin, scope.project_id is None,
        None if marker is None else tuple(getattr(marker, key) is None for key, _ in query.sort),
    )


def _values(query: ImageQuery, scope: ListScope, marker: Image | None) -> dict[str, Any]:
    """Every value a statement of this shape binds (``_build`` names them alike)."""
    values: dict[str, Any] = {"limit": query.limit, "project": scope.project_id, "member_status": query.member_status,
                              "size_min": query.size_min, "size_max": query.size_max}
    for column, listed in query.columns.items():
        values.update({f"column_{column}_{i}": value for i, value in enumerate(listed)})
    values.update({f"integer_{column}": number for column, number in query.integers.items()})
    values.update({f"tag_{i}": tag for i, tag in enumerate(query.tags)})
    for i, (name, value) in enumerate(query.properties.items()):
        values[f"property_name_{i}"], values[f"property_value_{i}"] = name, value
    for i, time_filter in enumerate(query.times):
        values[f"time_{i}"] = time_filter.moment
        values[f"time_{i}_end"] = time_filter.moment + _ONE_SECOND
    if marker is not None:
        for key, _ in query.sort:
            values[f"marker_{key}"] = _plain(getattr(marker, key))
    return values


def _bind(name: str, column: sa.ColumnElement[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


def _build(query: ImageQuery, scope: ListScope, marker: Image | None) -> sa.Select[Any]:
    conditions = [
        images.c.deleted.is_(False),
        images.c.status.not_in([sa.literal(ImageStatus.DELETED.value), sa.literal(ImageStatus.KILLED.value),
                                sa.literal(ImageStatus.PENDING_DELETE.value)]),
        images.c.os_hidden.is_(query.os_hidden),
        _visibility_clause(query, scope),
        *_filter_clauses(query, scope),
    ]
    if marker is not None:
        conditions.append(_after(query.sort, marker))
    return (sa.select(images.c.id, images.c.revision, images.c.created_at).where(*conditions)
            .order_by(*_order_by(query.sort)).limit(sa.bindparam("limit", type_=sa.Integer)))


def _visibility_clause(query: ImageQuery, scope: ListScope) -> sa.ColumnElement[bool]:
    visibility: sa.ColumnElement[str] = images.c.visibility
    wanted = query.visibility
    project = _bind("project", images.c.owner) if scope.project_id is not None else None
    owned = images.c.owner == project if project is not None else sa.false()
    if scope.is_admin:
        if wanted == "all":
            return sa.true()
        if wanted is not None:
            return visibility == wanted
        return sa.or_(visibility != "community", owned)

    membership = [image_members.c.image_id == images.c.id, image_members.c.member == project]
    if query.member_status != "all":
        membership.append(image_members.c.status == _bind("member_status", image_members.c.status))
    shared_with_me = sa.and_(visibility == "shared", sa.exists().where(*membership)) if project is not None \
        else sa.false()
    # As in Glance, images without an owner are readable by id but listed only when public/community.
    if wanted is None:
        return sa.or_(owned, shared_with_me, visibility == "public")
    candidates = sa.or_(owned, visibility.in_([sa.literal("public"), sa.literal("community")]), shared_with_me)
    if wanted == "all":
        return candidates
    return sa.and_(visibility == wanted, candidates)


def _filter_clauses(query: ImageQuery, scope: ListScope) -> Iterable[sa.ColumnElement[bool]]:
    for column, values in query.columns.items():
        binds = [_bind(f"column_{column}_{i}", images.c[column]) for i in range(len(values))]
        yield images.c[column].in_(binds) if len(binds) > 1 else images.c[column] == binds[0]
    for column in query.integers:
        yield images.c[column] == _bind(f"integer_{column}", images.c[column])
    if query.size_min is not None:
        yield images.c.size >= _bind("size_min", images.c.size)
    if query.size_max is not None:
        yield images.c.size <= _bind("size_max", images.c.size)
    if query.protected is not None:
        yield images.c.protected.is_(query.protected)
    if query.tags:
        yield _tagged(len(query.tags))
    # A private property matches only for those who may see it (the image owner, admins).
    readable = (sa.true() if scope.is_admin else
                sa.or_(image_properties.c.visibility == PropertyVisibility.PUBLIC.value,
                       images.c.owner == _bind("project", images.c.owner) if scope.project_id is not None
                       else sa.false()))
    for i in range(len(query.properties)):
        yield sa.exists().where(image_properties.c.image_id == images.c.id,
                                image_properties.c.name == _bind(f"property_name_{i}", image_properties.c.name),
                                image_properties.c.value == _bind(f"property_value_{i}", image_properties.c.value),
                                readable)
    for i, time_filter in enumerate(query.times):
        yield _time_clause(i, time_filter)


def _tagged(count: int) -> sa.ColumnElement[bool]:
    """Images carrying all ``count`` tags: one lookup of the tags, however many there are.

    One ``EXISTS`` per tag made the planner nest ``count`` semi-joins: on
    PostgreSQL 200 tags took 13 s and 2,000 half an hour. Tags are unique per
    image (the primary key) and the parser removes duplicates, so an image
    matches when it has ``count`` rows among the wanted values.
    """
    binds = [_bind(f"tag_{i}", image_tags.c.value) for i in range(count)]
    if count == 1:
        return sa.exists().where(image_tags.c.image_id == images.c.id, image_tags.c.value == binds[0])
    carrying = (sa.select(image_tags.c.image_id).where(image_tags.c.value.in_(binds))
                .group_by(image_tags.c.image_id).having(sa.func.count() == count))
    return images.c.id.in_(carrying)


def _time_clause(i: int, f: TimeFilter) -> sa.ColumnElement[bool]:
    column: sa.ColumnElement[dt.datetime] = images.c[f.column]
    low = _bind(f"time_{i}", column)
    high = _bind(f"time_{i}_end", column) if f.whole_second else low
    equal = sa.and_(column >= low, column < high) if f.whole_second else column == low
    return {
        "eq": equal,
        "neq": sa.not_(equal),
        "gt": column >= high if f.whole_second else column > low,
        "gte": column >= low,
        "lt": column < low,
        "lte": column < high if f.whole_second else column <= low,
    }[f.operator]


def _order_by(sort: Sequence[tuple[str, str]]) -> list[sa.ColumnElement[Any]]:
    """NULLs sort first ascending and last descending, on every backend."""
    clauses: list[sa.ColumnElement[Any]] = []
    for key, direction in sort:
        column = images.c[key]
        parts: list[sa.ColumnElement[Any]] = [column]
        if key in _NULLABLE_SORT_KEYS:
            parts.insert(0, sa.case((column.is_(None), 0), else_=1))
        clauses.extend(p.asc() if direction == "asc" else p.desc() for p in parts)
    return clauses


def _after(sort: Sequence[tuple[str, str]], marker: Image) -> sa.ColumnElement[bool]:
    """Rows strictly after ``marker`` in ``sort`` order (keyset pagination)."""
    alternatives = []
    for i, (key, direction) in enumerate(sort):
        equal_before = [_equal(k, getattr(marker, k)) for k, _ in sort[:i]]
        alternatives.append(sa.and_(*equal_before, _beyond(key, direction, getattr(marker, key))))
    after = sa.or_(*alternatives)
    key, direction = sort[0]
    if key in _NULLABLE_SORT_KEYS or getattr(marker, key) is None:
        return after
    # Redundant, but a plain range on the first key lets the database start reading the index at
    # the marker instead of walking it from the top to skip every earlier page.
    column: sa.ColumnElement[Any] = images.c[key]
    value = _marker(key)
    return sa.and_(column >= value if direction == "asc" else column <= value, after)


def _marker(key: str) -> sa.BindParameter[Any]:
    return _bind(f"marker_{key}", images.c[key])


def _equal(key: str, value: Any) -> sa.ColumnElement[bool]:
    column: sa.ColumnElement[Any] = images.c[key]
    return column.is_(None) if value is None else column == _marker(key)


def _beyond(key: str, direction: str, value: Any) -> sa.ColumnElement[bool]:
    column: sa.ColumnElement[Any] = images.c[key]
    if direction == "asc":
        return column.is_not(None) if value is None else column > _marker(key)
    if value is None:
        return sa.false()
    if key in _NULLABLE_SORT_KEYS:
        return sa.or_(column < _marker(key), column.is_(None))
    below: sa.ColumnElement[bool] = column < _marker(key)
    return below


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, (ImageStatus, Visibility)) else value
