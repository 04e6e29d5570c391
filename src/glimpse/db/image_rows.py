"""Images built from their database rows, and on SQLite loaded whole in one statement.

An image is one ``images`` row plus its properties, tags and active
locations. Through SQLAlchemy that takes a transaction and four statements
(about half a millisecond on SQLite, most of it SQLAlchemy's own work). On
SQLite, :func:`load_sqlite` reads the images with their properties, tags and
locations gathered by SQLite's JSON functions into one row each, in one
statement (so one consistent state, without a transaction) through
:class:`~glimpse.db.sqlite_reads.SqliteReads`: a few tens of microseconds.
This is the path of every first read of an image by a process, which
otherwise takes most of a show's time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa

from glimpse.db.sqlite_reads import SqliteReads, compile_for_sqlite
from glimpse.db.tables import image_locations, image_properties, image_tags, images
from glimpse.domain.images import Image, ImageLocation, ImageStatus, PropertyInfo, PropertyVisibility, Visibility


@dataclass(frozen=True)
class ImageDetails:
    """What an image has besides its row: properties (with who set them), tags and active locations."""

    properties: dict[str, str | None]
    infos: dict[str, PropertyInfo]
    tags: tuple[str, ...]
    locations: tuple[ImageLocation, ...]


def image_from_row(row: Any, details: ImageDetails) -> Image:
    """The image of an ``images`` row (anything with its columns as attributes) and its details."""
    return Image(
        id=row.id, name=row.name, status=ImageStatus(row.status), visibility=Visibility(row.visibility),
        owner=row.owner, created_at=row.created_at, updated_at=row.updated_at, protected=bool(row.protected),
        os_hidden=bool(row.os_hidden), disk_format=row.disk_format, container_format=row.container_format,
        min_disk=row.min_disk, min_ram=row.min_ram, size=row.size, virtual_size=row.virtual_size,
        checksum=row.checksum, os_hash_algo=row.os_hash_algo, os_hash_value=row.os_hash_value,
        tags=details.tags, properties=dict(details.properties), locations=details.locations, revision=row.revision,
        property_info=dict(details.infos), activated_at=row.activated_at,
    )


def property_info(project_id: str | None, visibility: str | None) -> PropertyInfo:
    return PropertyInfo(project_id, PropertyVisibility(visibility or "public"))


# -- SQLite: the whole image in one statement

_P, _T, _L = image_properties.alias("p"), image_tags.alias("t"), image_locations.alias("l")
_json_array = sa.func.json_array
_properties = (sa.select(sa.func.json_group_array(_json_array(_P.c.name, _P.c.value, _P.c.project_id,
                                                              _P.c.visibility)))
               .where(_P.c.image_id == images.c.id).scalar_subquery())
_tags = sa.select(sa.func.json_group_array(_T.c.value)).where(_T.c.image_id == images.c.id).scalar_subquery()
# ``meta`` holds JSON text: json() embeds it as a value, not as a string. The id orders them (in Python).
_locations = (sa.select(sa.func.json_group_array(_json_array(_L.c.id, _L.c.store, _L.c.key, _L.c.url,
                                                             sa.func.json(_L.c.meta))))
              .where(_L.c.image_id == images.c.id, _L.c.status == "active").scalar_subquery())
_IDS = sa.func.json_each(sa.bindparam("ids")).table_valued("value")
_LOAD = compile_for_sqlite(
    sa.select(*images.c, _properties.label("properties_json"), _tags.label("tags_json"),
              _locations.label("locations_json"))
    .where(images.c.id.in_(sa.select(_IDS.c.value)), images.c.deleted.is_(False))
)
_ROW_COLUMNS = tuple(column.name for column in images.c)
#: Positions of the timestamp columns, which SQLite holds as ISO text.
_TIMESTAMPS = tuple(i for i, column in enumerate(images.c) if isinstance(column.type, sa.DateTime))


class _Row(NamedTuple("_RowBase", [(name, Any) for name in _ROW_COLUMNS])):  # type: ignore[misc]
    """An ``images`` row read through the DB-API, with SQLAlchemy's Python types."""


def load_sqlite(reads: SqliteReads, ids: Iterable[str]) -> list[Image]:
    """The images (not deleted) among ``ids``, each with its details, in one statement; in no set order."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    loaded = []
    width = len(_ROW_COLUMNS)
    for found in reads.rows(_LOAD, {"ids": json.dumps(wanted)}):
        values = list(found[:width])
        for i in _TIMESTAMPS:
            if values[i] is not None:
                values[i] = dt.datetime.fromisoformat(values[i])
        loaded.append(image_from_row(_Row(*values), _details(*found[width:])))
    return loaded


def _details(properties_json: str, tags_json: str, locations_json: str) -> ImageDetails:
    properties: dict[str, str | None] = {}
    infos: dict[str, PropertyInfo] = {}
    for name, value, project_id, visibility in json.loads(properties_json):
        properties[name] = value
        infos[name] = property_info(project_id, visibility)
    locations: Sequence[list[Any]] = sorted(json.loads(locations_json))
    return ImageDetails(
        properties, infos, tuple(sorted(json.loads(tags_json))),
        tuple(ImageLocation(store=store, key=key, url=url, metadata=meta) for _id, store, key, url, meta in locations),
    )
