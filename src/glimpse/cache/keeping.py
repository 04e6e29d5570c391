"""Keeping a node's image cache: the cleaner, the prefetcher, start-up announcements, and whose turn it is.

The pruner lives with the cache (:meth:`ImageCache.prune`), which runs it after
every fill too. The background task of :mod:`glimpse.cache.plugin` and
``glimpse-manage cache`` call these.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from glimpse.cache.fills import is_abandoned
from glimpse.cache.images import stale
from glimpse.domain.images import ImageStatus

if TYPE_CHECKING:
    from glimpse.cache.images import ImageCache

log = logging.getLogger(__name__)


def clean(cache: ImageCache) -> int:
    """Remove abandoned fills, files without an entry, entries without a file or whose file changed, and
    images deleted or no longer active; how many went."""
    removed = 0
    for record in cache.incomplete.glob("*.fill"):
        if is_abandoned(record):
            (cache.incomplete / record.stem).unlink(missing_ok=True)
            record.unlink(missing_ok=True)
            removed += 1
    filling = {record.stem for record in cache.incomplete.glob("*.fill")}
    for path in cache.incomplete.iterdir():
        if not path.name.endswith(".fill") and path.name not in filling:
            path.unlink(missing_ok=True)
            removed += 1
    entries = {entry.image_id: entry for entry in cache.index.entries()}
    for path in cache.data.iterdir():
        if path.name not in entries and not (cache.incomplete / f"{path.name}.fill").exists():
            path.unlink(missing_ok=True)
            removed += 1
    for image_id, entry in entries.items():
        image = cache.services.image_repository.get(image_id)
        if image is None or image.status is not ImageStatus.ACTIVE:
            removed += cache.drop(image_id, "the image was deleted or deactivated")
            continue
        try:
            problem = stale(entry, image, os.stat(cache.data / image_id))
        except FileNotFoundError:
            problem = "its file is gone"
        if problem is not None:
            removed += cache.drop(image_id, problem)
    return removed


def prefetch(cache: ImageCache) -> int:
    """Fill every queued image; how many are cached now."""
    done = 0
    for image_id in cache.index.queued():
        if cache.stop.is_set():
            break
        image = cache.services.image_repository.get(image_id)
        if image is None or image.status is not ImageStatus.ACTIVE or not image.size:
            log.warning("queued image %s is not an active image with data; dropped from the queue", image_id)
            cache.index.unqueue(image_id)
            continue
        if image.size > cache.max_size:
            log.warning("queued image %s is larger than image_cache_max_size; dropped from the queue", image_id)
            cache.index.unqueue(image_id)
            continue
        if cache.cached(image_id) or cache.fill_now(image):
            cache.index.unqueue(image_id)
            done += 1
    return done


def announce(cache: ImageCache) -> None:
    """Fire ``image_cached`` for every valid file (at start-up, after :func:`clean`)."""
    for entry in cache.index.entries():
        image = cache.services.image_repository.get(entry.image_id)
        if image is not None:
            cache.services.extensions.observe(cache.hooks.image_cached, image=image,
                                              path=cache.data / entry.image_id)


@contextlib.contextmanager
def maintenance(cache: ImageCache) -> Iterator[bool]:
    """One worker of the node at a time cleans and prunes: yields True in the one that got the turn."""
    fd = os.open(cache.root / "maintenance.lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
