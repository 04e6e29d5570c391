"""A store that keeps its objects under a key prefix inside another store's namespace.

The staging area, by default, lives in the default store when that store is
remote (a bucket, a pool, a container every node reaches): its objects are
named ``<prefix><key>`` there, so a staged image and the same image's data
never share a name, and the orphan sweep tells them apart.
"""

from __future__ import annotations

from collections.abc import Iterator

from glimpse.stores.base import PendingObject, Store, StoredObject

#: The prefix of staged objects in a store shared with image data.
STAGING_PREFIX = "os_glance_staging_"


class PrefixedStore:
    """``inner`` seen through ``prefix``: key ``k`` here is ``prefix + k`` there."""

    def __init__(self, inner: Store, prefix: str) -> None:
        if not prefix:
            raise ValueError("a prefixed store needs a prefix")
        self.inner = inner
        self.prefix = prefix

    def url_for(self, key: str) -> str:
        return self.inner.url_for(self.prefix + key)

    def begin(self, key: str, *, size: int | None = None) -> PendingObject:
        return _Pending(self.inner.begin(self.prefix + key, size=size), key)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return self.inner.open(self.prefix + key, offset=offset, length=length)

    def delete(self, key: str) -> None:
        self.inner.delete(self.prefix + key)

    def stat(self, key: str) -> int:
        return self.inner.stat(self.prefix + key)

    def check(self) -> None:
        self.inner.check()

    def locate(self, key: str) -> tuple[Store, str]:
        """The store and key ``key`` really is (for :func:`~glimpse.stores.base.adopt` and ``clone``)."""
        return self.inner, self.prefix + key

    def list_keys(self) -> Iterator[str]:
        """The keys of this store's objects (the inner store's under the prefix, without it)."""
        list_keys = getattr(self.inner, "list_keys")
        return (key[len(self.prefix):] for key in list_keys() if key.startswith(self.prefix))


class _Pending:
    """The inner store's pending object, reporting the key as the caller gave it."""

    def __init__(self, inner: PendingObject, key: str) -> None:
        self._inner = inner
        self.key = key

    def write(self, chunk: bytes | memoryview) -> None:
        self._inner.write(chunk)

    def local_path(self) -> str | None:
        return self._inner.local_path()

    def commit(self) -> StoredObject:
        stored = self._inner.commit()
        return StoredObject(key=self.key, url=stored.url, size=stored.size)

    def abort(self) -> None:
        self._inner.abort()
