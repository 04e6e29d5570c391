"""The cache of the node this process serves: opened when the node's services are, one per process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glimpse.cache.images import ImageCache

if TYPE_CHECKING:
    from glimpse.services import Services

_current: ImageCache | None = None


def open_cache(services: Services) -> ImageCache:
    """Open the cache directory the settings name (replacing a cache opened before in this process)."""
    global _current
    settings = services.settings
    root = settings.image_cache_dir or settings.data_dir / "image-cache"
    fillers = [filler for found in services.extensions.hook.register_cache_fillers(services=services)
               for filler in found]
    if _current is not None:
        _current.close()
    _current = ImageCache(services, root=root.expanduser(), max_size=settings.image_cache_max_size,
                          stall_time=settings.image_cache_stall_time, fillers=fillers)
    return _current


def current() -> ImageCache | None:
    """The cache opened last in this process, if any."""
    return _current
