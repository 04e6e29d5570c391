"""The read path for images, chosen once per process: :func:`image_reader`.

:class:`~glimpse.db.images.ImageRepository` reads images through an
:class:`ImageReader` and keeps what it read in its cache; which reader is
decided once, when the repository is made, instead of at every call site:

* :class:`SqliteImageReader` for an SQLite database file: each read is one
  statement through plain ``sqlite3`` connections
  (:mod:`glimpse.db.sqlite_reads`); an image whole in one statement
  (:func:`~glimpse.db.image_rows.load_sqlite`). Local and quick enough that the
  edge runs these reads inline on the event loop (:attr:`ImageReader.inline`);
* :class:`SqlAlchemyImageReader` everywhere else (PostgreSQL, MariaDB, SQLite
  in memory): SQLAlchemy, with the properties, tags and locations of versions
  this process has seen kept in a small cache of their own.

``tests/db/test_image_rows.py`` checks both readers load the same images.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from glimpse.db.engine import Database
from glimpse.db.image_cache import ImageVersion
from glimpse.db.image_lists import PageStatement
from glimpse.db.image_rows import ImageDetails, image_from_row, load_sqlite, property_info
from glimpse.db.sqlite_reads import SqliteReads, compile_for_sqlite
from glimpse.db.tables import image_locations, image_properties, image_tags, images
from glimpse.domain.images import Image, ImageLocation, PropertyInfo
from glimpse.lru import LruCache

#: Versions whose properties, tags and locations the SQLAlchemy reader keeps (~1 KiB each).
DETAILS_CACHE_SIZE = 8192

_VERSION = sa.select(images.c.revision, images.c.created_at).where(
    images.c.id == sa.bindparam("image_id"), images.c.deleted.is_(False))
_VERSION_SQLITE = compile_for_sqlite(_VERSION)


class ImageReader(Protocol):
    """How one process reads images. Every method reads the database as it is now (no cache of images)."""

    #: reads are local lookups cheaper than a hand-off to a thread: the edge may run them on the event loop
    inline: bool

    def version(self, image_id: str) -> ImageVersion | None:
        """The image's ``(revision, created_at)``, or ``None`` if unknown or deleted."""
        ...

    def page_keys(self, listing: PageStatement, values: Mapping[str, Any]) -> list[tuple[str, ImageVersion]]:
        """The ids and versions of one page of a listing, in order, from one statement."""
        ...

    def load(self, image_ids: Sequence[str]) -> list[Image]:
        """The images (not deleted) among ``image_ids``, each from one consistent state; in no set order."""
        ...

    def remember(self, image: Image, details: ImageDetails) -> None:
        """Details of a version this process just wrote, for a reader that keeps them."""
        ...


class SqliteImageReader:
    """Reads of an SQLite database file, each one statement through the DB-API."""

    inline = True

    def __init__(self, reads: SqliteReads) -> None:
        self._reads = reads

    def version(self, image_id: str) -> ImageVersion | None:
        found = self._reads.rows(_VERSION_SQLITE, {"image_id": image_id})
        return (found[0][0], dt.datetime.fromisoformat(found[0][1])) if found else None

    def page_keys(self, listing: PageStatement, values: Mapping[str, Any]) -> list[tuple[str, ImageVersion]]:
        return [(image_id, (revision, dt.datetime.fromisoformat(created_at)))
                for image_id, revision, created_at in self._reads.rows(listing.sqlite, values)]

    def load(self, image_ids: Sequence[str]) -> list[Image]:
        return load_sqlite(self._reads, image_ids)

    def remember(self, image: Image, details: ImageDetails) -> None:
        return None  # an image loads whole in one statement: nothing to keep


class SqlAlchemyImageReader:
    """Reads through SQLAlchemy: the row, then properties, tags and locations (unless kept for that version)."""

    inline = False

    def __init__(self, db: Database) -> None:
        self._db = db
        self._details: LruCache[tuple[str, int], ImageDetails] = LruCache(DETAILS_CACHE_SIZE)

    def version(self, image_id: str) -> ImageVersion | None:
        with self._db.statement() as conn:
            row = conn.execute(_VERSION, {"image_id": image_id}).first()
        return (row.revision, row.created_at) if row is not None else None

    def page_keys(self, listing: PageStatement, values: Mapping[str, Any]) -> list[tuple[str, ImageVersion]]:
        with self._db.statement() as conn:
            return [(row.id, (row.revision, row.created_at)) for row in conn.execute(listing.statement, values)]

    def load(self, image_ids: Sequence[str]) -> list[Image]:
        statement = sa.select(images).where(images.c.id.in_(list(image_ids)), images.c.deleted.is_(False))
        with self._db.read() as conn:  # the rows and their details from one consistent state
            rows = conn.execute(statement).all()
            found: dict[str, ImageDetails] = {}
            missing = []
            for row in rows:
                kept = self._details.get((row.id, row.revision))
                if kept is None:
                    missing.append(row)
                else:
                    found[row.id] = kept
            for row, details in zip(missing, _query_details(conn, missing)):
                self._details.put((row.id, row.revision), details)
                found[row.id] = details
        return [image_from_row(row, found[row.id]) for row in rows]

    def remember(self, image: Image, details: ImageDetails) -> None:
        self._details.put((image.id, image.revision), details)


def image_reader(db: Database) -> ImageReader:
    """The reader for ``db``: :class:`SqliteImageReader` for an SQLite file, else :class:`SqlAlchemyImageReader`."""
    if db.sqlite_reads is not None:
        return SqliteImageReader(db.sqlite_reads)
    return SqlAlchemyImageReader(db)


def _query_details(conn: Connection, rows: Sequence[Row[Any]]) -> list[ImageDetails]:
    ids = [row.id for row in rows]
    if not ids:
        return []
    properties: dict[str, dict[str, str | None]] = defaultdict(dict)
    infos: dict[str, dict[str, PropertyInfo]] = defaultdict(dict)
    for r in conn.execute(sa.select(image_properties).where(image_properties.c.image_id.in_(ids))):
        properties[r.image_id][r.name] = r.value
        infos[r.image_id][r.name] = property_info(r.project_id, r.visibility)
    tags: dict[str, list[str]] = defaultdict(list)
    for r in conn.execute(sa.select(image_tags).where(image_tags.c.image_id.in_(ids))):
        tags[r.image_id].append(r.value)
    locations: dict[str, list[ImageLocation]] = defaultdict(list)
    location_rows = conn.execute(
        sa.select(image_locations)
        .where(image_locations.c.image_id.in_(ids), image_locations.c.status == "active")
        .order_by(image_locations.c.id)
    )
    for r in location_rows:
        locations[r.image_id].append(ImageLocation(store=r.store, key=r.key, url=r.url, metadata=dict(r.meta)))
    return [ImageDetails(properties[i], infos[i], tuple(sorted(tags[i])), tuple(locations[i])) for i in ids]
