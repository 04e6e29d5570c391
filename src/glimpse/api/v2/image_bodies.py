"""Encoded image bodies, rendered once per image version and kept by each process.

What ``GET /v2/images/{id}`` and listings show of an image depends only on
the image's state, which ``(id, revision, created_at)`` names exactly (every change
increments the revision), and on which of its properties the caller may
see (the presented image leaves the others out; values are never changed). So
the encoded JSON of an image is kept per version and visible property names,
and a read that finds it skips building and encoding the view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from glimpse.api.caching import encode_json
from glimpse.api.v2.views import image_view
from glimpse.domain.images import Image
from glimpse.domain.schemas import ImageSchema
from glimpse.lru import LruCache

#: Encoded bodies each process keeps.
CACHE_SIZE = 8192

_Key = tuple[str, int, dt.datetime, tuple[str, ...]]


class ImageBodies:
    """Encoded views of images as read from the repository (not of images being changed)."""

    def __init__(self, schema: ImageSchema, *, multi_store: bool) -> None:
        self._schema = schema
        self._multi_store = multi_store
        self._bodies: LruCache[_Key, bytes] = LruCache(CACHE_SIZE)

    def encoded(self, image: Image) -> bytes:
        """The JSON of :func:`~glimpse.api.v2.views.image_view` for ``image``, encoded."""
        key = (image.id, image.revision, image.created_at, tuple(image.properties))
        found = self._bodies.get(key)
        if found is None:
            found = encode_json(image_view(image, self._schema, multi_store=self._multi_store))
            self._bodies.put(key, found)
        return found

    def encoded_list(self, images: Sequence[Image]) -> bytes:
        """The JSON array of the images' views."""
        return b"[" + b",".join(self.encoded(image) for image in images) + b"]"
