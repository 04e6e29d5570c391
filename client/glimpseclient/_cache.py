"""``client.cache``: the image cache of a streaming node (Glance's cache API, 2.14+, administrators)."""

from __future__ import annotations

from glimpseclient._session import Session, path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: what ``clear`` may empty
CLEAR_TARGETS = ("both", "cache", "queue")


class CacheAPI:
    """The calls go to the streaming endpoint: each node answers for its own cache."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def list(self) -> dict[str, Any]:
        """``{"cached_images": [{"image_id", "hits", "last_accessed", "last_modified", "size"}], "queued_images": [...]}``."""
        body: dict[str, Any] = self._session.json("GET", "/v2/cache")
        return body

    def queue(self, image_id: str) -> None:
        """Queue an active image for the node's prefetcher."""
        self._session.send("PUT", path("v2", "cache", image_id)).close()

    def delete(self, image_id: str) -> None:
        """Drop an image from the node's cache and queue."""
        self._session.send("DELETE", path("v2", "cache", image_id)).close()

    def clear(self, target: str = "both") -> None:
        """Empty the cache, the queue, or both."""
        if target not in CLEAR_TARGETS:
            raise ValueError(f"target must be one of {', '.join(CLEAR_TARGETS)}")
        headers = {} if target == "both" else {"x-image-cache-clear-target": target}
        self._session.send("DELETE", "/v2/cache", headers=headers).close()
