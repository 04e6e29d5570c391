"""Per-process caches of image state, keyed so that a cached entry is never served stale.

Every change of an image increments its ``revision`` in the same transaction
(:meth:`~glimpse.db.images.ImageRepository.update` is a compare-and-swap on
it), so ``(id, revision)`` names one exact state of the image row and of its
properties, tags and locations; ``created_at`` tells apart an image created
again with the id of one purged long ago. A reader checks the revision in the
database (one primary-key lookup) before it uses an entry, so a change made by
any process or node sharing the database is seen by the next read.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from glimpse.domain.images import Image

K = TypeVar("K")
V = TypeVar("V")

#: The state of an image row that a cached entry must match: ``(revision, created_at)``.
ImageVersion = tuple[int, dt.datetime]


class LruCache(Generic[K, V]):
    """A bounded mapping, least recently used out first; safe across threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class ImageCache:
    """Images as last loaded from the database, by id; an entry serves only the version it was loaded at.

    Cached images are shared, never copied: callers must not change them (they
    are frozen dataclasses; their dicts are never changed in place).
    """

    def __init__(self, size: int) -> None:
        self._images: LruCache[str, Image] = LruCache(size)

    def get(self, image_id: str, version: ImageVersion) -> Image | None:
        """The cached image if it is at ``version``, else ``None``."""
        found = self._images.get(image_id)
        if found is None or found.revision != version[0] or found.created_at != version[1]:
            return None
        return found

    def put(self, image: Image) -> None:
        """Remember an image exactly as loaded from the database."""
        self._images.put(image.id, image)
