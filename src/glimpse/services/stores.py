"""The configured stores of a node: building and probing them, and removal of data that is no longer wanted."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from dataclasses import dataclass, field

from glimpse.clock import utcnow
from glimpse.db.images import ImageRepository
from glimpse.errors import GlimpseError, StoreReadOnly, StoreUnavailable, UnknownStore
from glimpse.settings import Settings
from glimpse.stores.base import Store, StoreError, StoreObjectNotFound, put
from glimpse.stores.prefixed import PrefixedStore
from glimpse.stores.loader import StoreSetupError, load_store, load_stores
from glimpse.observability.metrics import metrics as store_metrics

log = logging.getLogger(__name__)
#: The size of the object ``glimpse-manage store check`` writes, in bytes.
PROBE_BYTES = 4096
_KEY_MARK = "glimpse-key-mark"
#: The reserved id of the store staged data is kept in (as in Glance).
STAGING_STORE = "os_glance_staging_store"


@dataclass
class StoreSet:
    """Store drivers by id, and which one takes new data."""

    stores: dict[str, Store]
    default: str
    descriptions: dict[str, str] = field(default_factory=dict)
    internal: set[str] = field(default_factory=set)
    #: stores that serve the data they hold but take no new data
    read_only: set[str] = field(default_factory=set)

    def add_internal(self, store_id: str, store: Store) -> None:
        """Register a store the service uses for itself (staging), not offered for image data."""
        self.stores[store_id] = store
        self.internal.add(store_id)

    @property
    def offered(self) -> list[str]:
        """Ids of the stores image data may be kept in."""
        return [store_id for store_id in self.stores if store_id not in self.internal]

    @property
    def multiple(self) -> bool:
        """Does this site keep image data in more than one store?"""
        return len(self.offered) > 1

    def offered_store(self, store_id: str | None) -> str:
        """``store_id`` if image data may be kept there, the default store for ``None``; else :class:`UnknownStore`."""
        if store_id is None:
            return self.default
        if store_id not in self.offered:
            raise UnknownStore(f"Store '{store_id}' is not known here; this site has {', '.join(self.offered)}.")
        return store_id

    def probe(self, store_id: str) -> str:
        """Write, read back and delete a small object in ``store_id``; say what was done.

        A read-only store is only looked up. Raises :class:`StoreError` (or
        :class:`StoreUnavailable`, a domain error) when the store fails.
        """
        store = self.get(store_id)
        started = time.monotonic()
        if store_id in self.read_only:
            _look_up(store)
            return f"ok, read-only: looked up in {(time.monotonic() - started) * 1000:.1f} ms"
        key = f"glimpse-probe-{uuid.uuid4().hex}"
        data = os.urandom(PROBE_BYTES)
        put(store, key, [data], size=len(data))
        try:
            chunks = store.open(key)
            try:
                back = b"".join(chunks)  # PROBE_BYTES, not image data
            finally:
                getattr(chunks, "close", lambda: None)()
        finally:
            store.delete(key)
        if back != data:
            raise StoreError(f"read back {len(back)} bytes that differ from the {len(data)} written")
        return f"ok, wrote, read and deleted {len(data)} bytes in {(time.monotonic() - started) * 1000:.1f} ms"

    def check(self, store_id: str) -> None:
        """Raise :class:`StoreError` unless ``store_id`` can take writes (read-only stores: can be reached)."""
        store = self.stores[store_id]
        if store_id in self.read_only:
            _look_up(store)
        else:
            store.check()

    def require_reachable(self) -> None:
        """:class:`StoreSetupError` for the first store that cannot be reached (at start-up)."""
        for store_id in self.stores:
            try:
                self.check(store_id)
            except (StoreError, GlimpseError) as exc:
                raise StoreSetupError(store_id, None, f"cannot be reached: {exc}") from None

    def locate(self, url: str) -> tuple[str, str]:
        """``(store_id, key)`` of the offered store whose :meth:`Store.url_for` makes ``url``.

        Drivers whose URLs are not a fixed prefix and suffix around the key
        (Swift with ``multiple_containers_seed``) parse them with ``key_for_url``.

        Raises :class:`UnknownStore` naming the stores (and what their URLs
        look like) when none does.
        """
        shapes = []
        for store_id in self.offered:
            store = self.stores[store_id]
            parse = getattr(store, "key_for_url", None)
            if parse is not None:  # a driver whose URLs are not one prefix and suffix (sharded Swift containers)
                shapes.append(f"{store_id}: {store.url_shape()}")  # type: ignore[attr-defined]
                key = parse(url)
                if key and not key.startswith("."):
                    return store_id, str(key)
                continue
            template = store.url_for(_KEY_MARK)
            prefix, _, suffix = template.partition(_KEY_MARK)
            shapes.append(f"{store_id}: {prefix}<key>{suffix}")
            if url.startswith(prefix) and url.endswith(suffix) and len(url) > len(prefix) + len(suffix):
                key = url[len(prefix):len(url) - len(suffix)]
                if "/" not in key and not key.startswith(".") and self.stores[store_id].url_for(key) == url:
                    return store_id, key
        raise UnknownStore(f"The URL {url} does not belong to a store of this site ({'; '.join(shapes)}).")

    def writable(self, store_id: str) -> Store:
        """The store ``store_id`` for writing; :class:`StoreReadOnly` if it is configured read-only."""
        store = self.get(store_id)
        if store_id in self.read_only:
            raise StoreReadOnly(f"Store '{store_id}' is read-only: it serves the images it holds but takes no new "
                                f"data. Writable stores: {', '.join(self.writable_ids) or 'none'}.")
        return store

    @property
    def writable_ids(self) -> list[str]:
        """Ids of the offered stores that take new data."""
        return [store_id for store_id in self.offered if store_id not in self.read_only]

    def get(self, store_id: str) -> Store:
        try:
            return self.stores[store_id]
        except KeyError:
            raise StoreUnavailable(f"Store '{store_id}' is not configured on this node.") from None

    def purge(self, images: ImageRepository, image_id: str | None = None, *,
              stale_before: dt.datetime | None = None) -> int:
        """Delete data of locations marked for deletion; return how many were removed.

        Failures are logged and left marked, so a later ``glimpse-manage cleanup``
        retries them; nothing here raises for a store error.
        """
        removed = 0
        for pending in images.pending_deletions(image_id=image_id, stale_before=stale_before):
            if pending.store in self.read_only:  # never changed by us: the record goes, the data stays
                log.info("image %s: leaving its data in read-only store %s", pending.image_id, pending.store)
                images.release_location(pending.location_id)
                continue
            if images.superseded(pending.location_id, pending.store, pending.key):
                # a later write of the same key (the image uploaded again) owns what is there now
                images.release_location(pending.location_id)
                continue
            try:
                with store_metrics().store_operation(pending.store, "delete"):
                    self.get(pending.store).delete(pending.key)
            except (StoreError, StoreUnavailable) as exc:
                log.warning("could not delete data of image %s from store %s: %s", pending.image_id, pending.store, exc)
                continue
            images.release_location(pending.location_id)
            removed += 1
        return removed

    def purge_stale(self, images: ImageRepository, *, older_than: dt.timedelta) -> int:
        """Also remove data of uploads abandoned (no progress) for ``older_than``."""
        return self.purge(images, stale_before=utcnow() - older_than)


def open_store_set(settings: Settings) -> StoreSet:
    """Build every store ``settings`` configure; :class:`StoreSetupError` (one line) for a store that is wrong."""
    return StoreSet(
        stores=load_stores(settings.stores),
        default=settings.default_store,
        descriptions={k: str(v.get("description", "")) for k, v in settings.stores.items()},
        read_only={k for k, v in settings.stores.items() if v.get("read_only")},
    )


def open_staging_store(settings: Settings) -> Store:
    """The store staged data goes to (``staging_store``); :class:`StoreSetupError` if it is wrong.

    With a ``key_prefix`` (the default when staging shares the default store)
    its objects are named ``<key_prefix><image id>`` in that store."""
    options = dict(settings.staging_store)
    prefix = options.pop("key_prefix", None)
    store = load_store(STAGING_STORE, options)
    if prefix:
        return PrefixedStore(store, str(prefix))
    return store


def staging_prefixes(stores: StoreSet) -> tuple[str, ...]:
    """Name prefixes of the internal stores kept inside other stores' namespaces (their objects are not orphans
    of the store they share)."""
    return tuple(store.prefix for store_id, store in stores.stores.items()
                 if store_id in stores.internal and isinstance(store, PrefixedStore))


def open_node_stores(settings: Settings) -> StoreSet:
    """Every store this node uses: the configured ones, and the staging store when ``glance-direct`` is enabled."""
    stores = open_store_set(settings)
    if "image-import" in settings.extensions and "glance-direct" in settings.import_methods:
        stores.add_internal(STAGING_STORE, open_staging_store(settings))
    return stores


def _look_up(store: Store) -> None:
    """Reach a store without writing to it: a missing probe key is the expected answer."""
    try:
        store.stat("glimpse-probe")
    except StoreObjectNotFound:
        pass
