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

from glimpse.domain.images import Image
from glimpse.lru import LruCache

#: The state of an image row that a cached entry must match: ``(revision, created_at)``.
ImageVersion = tuple[int, dt.datetime]


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
