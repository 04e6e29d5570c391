"""The seam through which other sources than the stores fill the cache (``p2p`` is one).

An extension returns :class:`CacheFiller` objects from the
``register_cache_fillers`` hook; on a miss the cache tries them in order before
reading the image from its stores. Whatever wrote the file, the cache verifies
its size and digest against the image record (``cache.verify``) before the file
becomes a valid cache entry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from glimpse.domain.images import Image


class CacheFiller(Protocol):
    """A source of an image's bytes for a cache fill."""

    #: e.g. ``"p2p"``; used in logs and in the ``X-Glimpse-Cache`` detail
    name: str

    def fill(self, image: Image, path: Path, progress: Callable[[int], None], stop: threading.Event) -> bool:
        """Write all ``image.size`` bytes of ``image`` into the existing, empty (or preallocated) file ``path``.

        Write in place (open it ``r+b``, ``fallocate`` it if you like); never
        replace the file by another one (no rename over it): the cache and the
        downloads following the fill hold it open.

        Call ``progress(n)`` whenever bytes ``[0, n)`` of the file are final on
        disk (monotonic); concurrent downloads being served from this fill
        stream up to ``n``, and the cache reads them back to digest them then,
        so bytes reported final must never be written again. Calling it again
        with the same ``n`` shows the fill is alive: a fill that calls nothing for ``image_cache_stall_time`` has
        ``stop`` set and its turn ends. Return True when the file is complete (the cache
        then verifies its size and digest against the image record,
        whatever the source); return False when this source cannot deliver
        (no peers, stalled), having cleaned up its own state — the cache then
        fills from the stores. Return False promptly when ``stop`` is set.
        Never raise for expected failures.
        """
        ...
