"""The image repository: images with their properties, tags and locations.

Every change goes through :meth:`ImageRepository.update`, a compare-and-swap on
the image's ``revision``: it applies only if nobody changed the image since it
was read, so callers re-read and retry instead of overwriting a concurrent
change.

Because of that, ``(id, revision)`` names one exact state of an image: its
row, its properties (with their owners and visibility), tags and active
locations. Each process keeps the images it loaded most recently
(:mod:`glimpse.db.image_cache`), checked against the image's revision in the
database on every read: a read is one primary-key lookup (a page of a listing,
one statement for the page's keys) unless the image changed since this process
last loaded it. (Anything that changes those rows must bump the revision, as
:meth:`ImageRepository.update` does.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from glimpse.clock import utcnow
from glimpse.db.engine import Database, retry_on_conflict
from glimpse.db.image_cache import ImageCache, ImageVersion
from glimpse.db.image_lists import ListScope, page_statement
from glimpse.db.image_reads import image_reader
from glimpse.db.image_rows import ImageDetails
from glimpse.db.outbox import write_messages
from glimpse.db.tables import image_locations, image_members, image_properties, image_tags, images
from glimpse.db.transactions import TransactionGuard
from glimpse.domain.events import OutboxMessage
from glimpse.domain.images import Image, ImageStatus
from glimpse.domain.queries import ImageQuery
from glimpse.errors import DuplicateImage

if TYPE_CHECKING:
    from glimpse.db.leases import LocationLeases

log = logging.getLogger(__name__)

_COLUMNS = ("name", "status", "visibility", "owner", "protected", "os_hidden", "disk_format", "container_format",
            "min_disk", "min_ram", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "activated_at")
#: Images each process keeps (see the module docstring): ~1.5 KiB each, with a few properties.
#: A working set larger than this is read from the database on every pass over it.
IMAGE_CACHE_SIZE = 8192

_GET = sa.select(images).where(images.c.id == sa.bindparam("image_id"), images.c.deleted.is_(False))
_INSERT = images.insert()
#: SET columns come from the parameters; the WHERE names are prefixed so they cannot clash with them.
_COMPARE_AND_SWAP = images.update().where(
    images.c.id == sa.bindparam("where_id"), images.c.revision == sa.bindparam("where_revision"),
    images.c.deleted.is_(False),
)


@dataclass(frozen=True)
class PendingDeletion:
    """Stored data whose image is gone (or whose upload never finished)."""

    location_id: int
    image_id: str
    store: str
    key: str
    #: "pending_delete" (the image let go of it) or "pending" (an upload that stopped)
    status: str


class ImageRepository:
    def __init__(self, db: Database, *, leases: LocationLeases | None = None) -> None:
        self._db = db
        #: how this process reads images (chosen once, for the database ``db`` names)
        self.reader = image_reader(db)
        #: renews the lease of each location this process reserves while it writes (see :mod:`glimpse.db.leases`)
        self.leases = leases
        self._images = ImageCache(IMAGE_CACHE_SIZE)
        self._write_listeners: list[Callable[[str], None]] = []

    def watch_writes(self, listener: Callable[[str], None]) -> None:
        """Have ``listener`` called with an image's id after each change of it this process commits."""
        self._write_listeners.append(listener)

    def warm(self, image_ids: Sequence[str]) -> int:
        """Load these images (as they are now) into this process's cache ahead of their first read.

        For images that other processes just wrote; returns how many were loaded.
        """
        return len(self._load_now(image_ids))

    def _written(self, image_id: str) -> None:
        # The change is committed: a listener's failure must not turn it into an error for the caller.
        for listener in self._write_listeners:
            try:
                listener(image_id)
            except Exception:
                log.warning("a listener failed on the change of image %s", image_id, exc_info=True)

    # -- reads
    def get(self, image_id: str) -> Image | None:
        """The image, or ``None`` if unknown or deleted.

        One primary-key lookup of the image's version when this process has
        loaded that version before; the image is then the cached (shared) object.
        """
        version = self.version(image_id)
        if version is None:
            return None
        cached = self._images.get(image_id, version)
        if cached is not None:
            return cached
        loaded = self._cached(self.reader.load([image_id]))
        return loaded[0] if loaded else None

    def version(self, image_id: str) -> ImageVersion | None:
        """The image's ``(revision, created_at)`` now, or ``None`` if unknown or deleted."""
        return self.reader.version(image_id)

    def exists_ever(self, image_id: str) -> bool:
        """True if an image with this id exists or existed (ids are never reused)."""
        with self._db.read() as conn:
            return conn.execute(sa.select(images.c.id).where(images.c.id == image_id)).first() is not None

    def list_page(self, query: ImageQuery, scope: ListScope, marker: Image | None) -> list[Image]:
        """One page of images matching ``query`` as seen by ``scope``, after ``marker``.

        The page's keys come from one statement; each image from the cache if this
        process has it at that version, else loaded (all misses in one go).
        """
        listing, values = page_statement(query, scope, marker)
        return self._at_versions(self.reader.page_keys(listing, values))

    def _at_versions(self, keys: Sequence[tuple[str, ImageVersion]]) -> list[Image]:
        """The images with these ids, from the cache where it holds them at these versions.

        The others are loaded in one go; one that has changed since the keys
        were read is returned as it is now, one deleted since is left out.
        """
        found = {image_id: self._images.get(image_id, version) for image_id, version in keys}
        missing = [image_id for image_id, image in found.items() if image is None]
        if missing:
            found.update((image.id, image) for image in self._load_now(missing))
        return [image for image_id, _ in keys if (image := found[image_id]) is not None]

    def _load_now(self, image_ids: Sequence[str]) -> list[Image]:
        """The images (not deleted) among ``image_ids`` as they are now, loaded in one go and cached."""
        return self._cached(self.reader.load(image_ids))

    # -- writes
    @retry_on_conflict
    def add(self, image: Image, *, guard: TransactionGuard | None = None,
            outbox: Sequence[OutboxMessage] = ()) -> Image:
        """Insert a new image; raise :class:`DuplicateImage` if the id was ever used.

        ``guard`` runs first in the same transaction and may raise to refuse;
        ``outbox`` messages are written in that transaction too.
        """
        try:
            with self._db.write() as conn:
                if guard is not None:
                    guard(conn)
                conn.execute(_INSERT, {
                    "id": image.id, "created_at": image.created_at, "updated_at": image.updated_at,
                    "deleted": False, "deleted_at": None, "revision": image.revision, **_column_values(image)})
                if image.properties:
                    conn.execute(image_properties.insert(),
                                 [_property_row(image, k, v) for k, v in image.properties.items()])
                if image.tags:
                    conn.execute(image_tags.insert(), [{"image_id": image.id, "value": t} for t in image.tags])
                write_messages(conn, outbox)
        except IntegrityError:
            raise DuplicateImage(f"An image with identifier {image.id} already exists.") from None
        self._remember(image)
        self._written(image.id)
        return image

    @retry_on_conflict
    def update(self, before: Image, after: Image, *, guard: TransactionGuard | None = None,
               outbox: Callable[[Image], Sequence[OutboxMessage]] | None = None) -> Image | None:
        """Store ``after`` if the image is still exactly ``before``; else return ``None``.

        Properties, tags and locations are written as differences. Locations
        that disappear are marked for deletion from their store. ``guard`` runs
        first in the same transaction and may raise to refuse the change;
        ``outbox`` gets the image as stored and returns messages written in the
        same transaction (so none exist for a change that did not happen).
        """
        now = utcnow()
        if after.status is ImageStatus.ACTIVE and before.status not in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED):
            after = dataclasses.replace(after, activated_at=now)  # the data became active: it is fixed from now
        values: dict[str, Any] = {**_column_values(after), "updated_at": now, "revision": before.revision + 1}
        if after.status is ImageStatus.DELETED:
            values.update(deleted=True, deleted_at=now)
        with self._db.write() as conn:
            if guard is not None:
                guard(conn)
            result = conn.execute(_COMPARE_AND_SWAP, {"where_id": before.id, "where_revision": before.revision,
                                                      **values})
            if result.rowcount != 1:
                return None
            _write_properties(conn, before, after)
            _write_tags(conn, before, after)
            _write_locations(conn, before, after, now)
            stored = dataclasses.replace(after, updated_at=now, revision=before.revision + 1)
            if outbox is not None:
                write_messages(conn, outbox(stored))
        if after.locations == before.locations and after.status is not ImageStatus.DELETED:
            # Location rows carry details the domain does not; only unchanged ones are known exactly.
            self._remember(stored)
        self._written(stored.id)
        return stored

    def _remember(self, image: Image) -> None:
        """Cache an image this process just wrote, as a read would load it."""
        if all(value is None or isinstance(value, str) for value in image.properties.values()):
            infos = {name: image.info(name) for name in image.properties}
            details = ImageDetails(dict(image.properties), infos, tuple(sorted(image.tags)), image.locations)
            self.reader.remember(image, details)
            self._images.put(dataclasses.replace(image, properties=dict(details.properties),
                                                 property_info=dict(details.infos), tags=details.tags))

    def distinct_property_values(self, names: Iterable[str]) -> list[tuple[str, str | None]]:
        """Every distinct ``(name, value)`` stored for these property names on images not deleted."""
        wanted = sorted(set(names))
        if not wanted:
            return []
        found: list[tuple[str, str | None]] = []
        with self._db.read() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    sa.select(image_properties.c.name, image_properties.c.value).distinct()
                    .join(images, images.c.id == image_properties.c.image_id)
                    .where(images.c.deleted.is_(False), image_properties.c.name.in_(wanted[start:start + 500])))
                found.extend((r.name, r.value) for r in rows)
        return found

    def purge_deleted(self, before: dt.datetime) -> int:
        """Forget images deleted before ``before`` for good (rows and children), once their data is gone.

        Their ids become reusable. Images whose data still awaits removal from a
        store are kept until it is gone.
        """
        waiting = sa.select(image_locations.c.image_id).where(
            image_locations.c.status.in_(["pending_delete", "pending", "staged"]))
        condition = sa.and_(images.c.deleted.is_(True), images.c.deleted_at < before, images.c.id.not_in(waiting))
        with self._db.write() as conn:
            doomed = [row.id for row in conn.execute(sa.select(images.c.id).where(condition))]
            for start in range(0, len(doomed), 500):
                batch = doomed[start:start + 500]
                for child in (image_properties, image_tags, image_locations, image_members):
                    conn.execute(child.delete().where(child.c.image_id.in_(batch)))
                conn.execute(images.delete().where(images.c.id.in_(batch)))
        return len(doomed)

    # -- data bookkeeping
    def reserve_location(self, image_id: str, store: str, key: str, url: str) -> int:
        """Record, before writing, that ``key`` in ``store`` may soon hold data for the image."""
        now = utcnow()
        with self._db.write() as conn:
            result = conn.execute(image_locations.insert().values(
                image_id=image_id, store=store, key=key, url=url, meta={}, status="pending",
                created_at=now, updated_at=now))
            primary_key = result.inserted_primary_key
            assert primary_key is not None
        if self.leases is not None:
            self.leases.hold(int(primary_key[0]))
        return int(primary_key[0])

    def touch_location(self, location_id: int) -> None:
        """Show that the upload writing this location is still making progress."""
        with self._db.write() as conn:
            conn.execute(image_locations.update().where(image_locations.c.id == location_id)
                         .values(updated_at=utcnow()))

    def set_location_status(self, location_id: int, status: str, *, meta: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if meta is not None:
            values["meta"] = meta
        with self._db.write() as conn:
            conn.execute(image_locations.update().where(image_locations.c.id == location_id).values(**values))

    def staged_record(self, image_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(key, meta)`` of the image's staged data, if it has some."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(image_locations.c.key, image_locations.c.meta).where(
                image_locations.c.image_id == image_id, image_locations.c.status == "staged").limit(1)).first()
        return (str(row.key), dict(row.meta or {})) if row is not None else None

    def pending_delete_before(self, before: dt.datetime) -> list[str]:
        """Ids of ``pending_delete`` images deleted (last changed) before ``before``."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(images.c.id).where(
                images.c.status == ImageStatus.PENDING_DELETE.value, images.c.deleted.is_(False),
                images.c.updated_at < before)).all()
        return [str(row.id) for row in rows]

    def referenced_keys(self, store: str) -> set[str]:
        """Keys of ``store`` some location record names, whatever its status (nothing recorded is an orphan)."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(image_locations.c.key).where(image_locations.c.store == store)).all()
        return {str(row.key) for row in rows}

    def claim_staged(self, location_id: int) -> bool:
        """Forget one staging record if it is still there; ``True`` for the one caller that did."""
        with self._db.write() as conn:
            result = conn.execute(image_locations.delete().where(
                image_locations.c.id == location_id, image_locations.c.status == "staged"))
        return result.rowcount == 1

    def release_staged(self, image_id: str, location_id: int | None = None) -> None:
        """Forget the staging record(s) of an image whose staged data is gone."""
        condition = image_locations.c.id == location_id if location_id is not None else sa.and_(
            image_locations.c.image_id == image_id, image_locations.c.status == "staged")
        with self._db.write() as conn:
            conn.execute(image_locations.delete().where(condition))

    def location_holder(self, store: str, key: str) -> str | None:
        """The id of an image whose data is (or is being written) at ``key`` in ``store``, if any."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(image_locations.c.image_id).where(
                image_locations.c.store == store, image_locations.c.key == key,
                image_locations.c.status.in_(["active", "pending", "staged"])).limit(1)).first()
        return None if row is None else str(row.image_id)

    def superseded(self, location_id: int, store: str, key: str) -> bool:
        """Whether a later record names ``key`` in ``store`` too: the data there is that write's, not this one's.

        Keys are reused (an image's data is stored under its id): an upload that
        failed, and could not remove what it wrote, leaves its record behind, and
        the next upload of the image writes the same key.
        """
        with self._db.read() as conn:
            row = conn.execute(sa.select(image_locations.c.id).where(
                image_locations.c.store == store, image_locations.c.key == key,
                image_locations.c.id > location_id).limit(1)).first()
        return row is not None

    def release_location(self, location_id: int) -> None:
        """Forget a location whose data is gone (or was never written)."""
        with self._db.write() as conn:
            conn.execute(image_locations.delete().where(image_locations.c.id == location_id))

    def pending_deletions(
        self, *, image_id: str | None = None, stale_before: dt.datetime | None = None
    ) -> list[PendingDeletion]:
        """Locations whose data should be removed from their store.

        That is every location marked ``pending_delete``, plus ``pending`` ones
        (an upload in progress or abandoned) last touched before ``stale_before``.
        """
        condition = image_locations.c.status == "pending_delete"
        if stale_before is not None:
            condition = sa.or_(condition, sa.and_(image_locations.c.status == "pending",
                                                  image_locations.c.updated_at < stale_before))
        if image_id is not None:
            condition = sa.and_(condition, image_locations.c.image_id == image_id)
        with self._db.read() as conn:
            rows = conn.execute(sa.select(image_locations).where(condition)).all()
        return [PendingDeletion(r.id, r.image_id, r.store, r.key, r.status) for r in rows]

    def staged_before(self, store: str, before: dt.datetime) -> list[PendingDeletion]:
        """Staged data in ``store`` (complete, awaiting its import) last touched before ``before``."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(image_locations).where(
                image_locations.c.store == store, image_locations.c.status == "staged",
                image_locations.c.updated_at < before)).all()
        return [PendingDeletion(r.id, r.image_id, r.store, r.key, r.status) for r in rows]

    def _cached(self, loaded: list[Image]) -> list[Image]:
        """``loaded`` (images just read from the database), each remembered for the next read."""
        for image in loaded:
            self._images.put(image)
        return loaded


def _column_values(image: Image) -> dict[str, Any]:
    values = {name: getattr(image, name) for name in _COLUMNS}
    values["status"] = image.status.value
    values["visibility"] = image.visibility.value
    return values


def _property_row(image: Image, name: str, value: str | None) -> dict[str, Any]:
    info = image.info(name)
    return {"image_id": image.id, "name": name, "value": value, "project_id": info.project_id,
            "visibility": info.visibility.value}


def _write_properties(conn: Connection, before: Image, after: Image) -> None:
    old, new = before.properties, after.properties
    gone = [name for name in old if name not in new]
    if gone:
        conn.execute(image_properties.delete().where(image_properties.c.image_id == before.id,
                                                     image_properties.c.name.in_(gone)))
    for name, value in new.items():
        if name not in old:
            conn.execute(image_properties.insert().values(**_property_row(after, name, value)))
        elif old[name] != value or before.info(name) != after.info(name):
            row = _property_row(after, name, value)
            conn.execute(image_properties.update()
                         .where(image_properties.c.image_id == before.id, image_properties.c.name == name)
                         .values(value=value, project_id=row["project_id"], visibility=row["visibility"]))


def _write_tags(conn: Connection, before: Image, after: Image) -> None:
    old, new = set(before.tags), set(after.tags)
    if old - new:
        conn.execute(image_tags.delete().where(image_tags.c.image_id == before.id,
                                               image_tags.c.value.in_(sorted(old - new))))
    if new - old:
        conn.execute(image_tags.insert(), [{"image_id": before.id, "value": t} for t in sorted(new - old)])


def _write_locations(conn: Connection, before: Image, after: Image, now: dt.datetime) -> None:
    old = {(loc.store, loc.key) for loc in before.locations}
    new = {(loc.store, loc.key) for loc in after.locations}
    where_image = image_locations.c.image_id == before.id
    for store, key in new - old:
        # An upload reserved the row as "pending" before writing; activate it.
        activated = conn.execute(
            image_locations.update()
            .where(where_image, image_locations.c.store == store, image_locations.c.key == key,
                   image_locations.c.status == "pending")
            .values(status="active", updated_at=now)
        ).rowcount
        if not activated:
            location = next(loc for loc in after.locations if (loc.store, loc.key) == (store, key))
            conn.execute(image_locations.insert().values(
                image_id=before.id, store=store, key=key, url=location.url, meta=location.metadata,
                status="active", created_at=now, updated_at=now))
    if after.status is ImageStatus.DELETED:  # staged data goes with the image
        conn.execute(image_locations.update().where(where_image, image_locations.c.status == "staged")
                     .values(status="pending_delete", updated_at=now))
    for store, key in old - new:
        conn.execute(
            image_locations.update()
            .where(where_image, image_locations.c.store == store, image_locations.c.key == key,
                   image_locations.c.status == "active")
            .values(status="pending_delete", updated_at=now)
        )
