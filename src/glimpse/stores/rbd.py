"""A store in a Ceph RBD pool, through librados/librbd (Debian's python3-rados and python3-rbd).

One RBD image per key, written in ``chunk_size`` pieces, each by a background
thread while the next one fills (the image grown as it goes when
the size is not known in advance, trimmed to the exact size at commit). Commit
takes a protected snapshot ``snap``, as Glance does, so Nova and Cinder can
clone from it; readers only ever read that snapshot, so an image still being
written (which has none) reads as missing. Abort removes the RBD image.
Locations are ``rbd://<fsid>/<pool>/<image>/snap``, as Glance writes them.
Between pools of one cluster a copy is a copy-on-write clone of that snapshot
(:mod:`~glimpse.stores.rbd_clones`), flattened when its parent is deleted.

Options follow glance_store's ``rbd_store_*`` names without the prefix
(``chunk_size`` in MiB, a power of two); ``keyring`` is ours (Glance reads it
from ``ceph.conf``), and so is ``copy_on_write_clones``. The bindings are
imported when a store is made, so the package works without them; the cluster
is first contacted on first use, in the worker process.
"""

from __future__ import annotations

import configparser
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

from glimpse.stores import options, rbd_clones, rbd_leftovers
from glimpse.stores.pieces import ParallelSends, PieceWriter
from glimpse.stores.readahead import Readahead
from glimpse.stores.base import (
    StoredObject,
    StoreConfigError,
    StoreError,
    StoreFullError,
    StoreObjectNotFound,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)
SNAPSHOT = rbd_leftovers.SNAPSHOT
READ_CHUNK = 4 * options.MiB
#: pieces of one upload written at once
WRITES_IN_FLIGHT = 3
#: ``image_features`` names, each with the bindings' constant and the features it needs
FEATURES = {"layering": ("RBD_FEATURE_LAYERING", ()), "deep-flatten": ("RBD_FEATURE_DEEP_FLATTEN", ()),
            "exclusive-lock": ("RBD_FEATURE_EXCLUSIVE_LOCK", ()),
            "object-map": ("RBD_FEATURE_OBJECT_MAP", ("exclusive-lock",)),
            "fast-diff": ("RBD_FEATURE_FAST_DIFF", ("object-map",))}
#: Images are written once, by one writer, then only read: no exclusive lock. With it, every open
#: for writing hands the lock over through watch/notify, and under load librbd 16.2 stalled 20 s and
#: more in it and aborted the process (std::system_error) — measured, see docs/stores.md.
DEFAULT_FEATURES = "layering,deep-flatten"


class RbdStore:
    """Objects are RBD images named by key in ``pool``."""

    def __init__(self, *, pool: str = "images", user: str | None = None, ceph_conf: str = "/etc/ceph/ceph.conf",
                 chunk_size: object = 8, keyring: str | None = None, connect_timeout: object = 10,
                 op_timeout: object = 60, copy_on_write_clones: object = True,
                 image_features: object = DEFAULT_FEATURES) -> None:
        self._rados, self._rbd = _bindings()
        self._pool = options.required("pool", pool)
        self._user = user or None
        if not os.path.isfile(ceph_conf):
            raise StoreConfigError("ceph_conf", "names no readable file")
        if keyring and not os.path.isfile(keyring):
            raise StoreConfigError("keyring", "names no readable file")
        self._conffile = ceph_conf
        self._keyring = keyring or None
        self.chunk_size = options.mebibytes("chunk_size", chunk_size)
        if self.chunk_size & (self.chunk_size - 1):
            raise StoreConfigError("chunk_size", "must be a power of two (MiB)")
        self._order = self.chunk_size.bit_length() - 1
        self._connect_timeout = options.positive_seconds("connect_timeout", connect_timeout)
        self._op_timeout = options.positive_seconds("op_timeout", op_timeout)
        self._clones = options.flag("copy_on_write_clones", copy_on_write_clones)
        self.features = _features(self._rbd, image_features)
        self._cluster: Any = None
        self._writers: ThreadPoolExecutor | None = None
        # From ceph.conf when it names it, so that a location can be given while the cluster is down.
        self._fsid = _conf_fsid(ceph_conf)
        self._lock = threading.Lock()

    def url_for(self, key: str) -> str:
        if not self._fsid:
            self._connected()
        return f"rbd://{self._fsid}/{self._pool}/{_checked(key)}/{SNAPSHOT}"

    @property
    def bindings(self) -> ModuleType:
        """The ``rbd`` module."""
        return self._rbd

    @property
    def order(self) -> int:
        """log2 of the RBD object size of the images this store makes (``chunk_size``)."""
        return self._order

    def begin(self, key: str, *, size: int | None = None) -> RbdUpload:
        ioctx = self.ioctx()
        try:
            self._create(ioctx, _checked(key), size or 0)
            image = self._rbd.Image(ioctx, key)
        except BaseException as exc:
            ioctx.close()
            raise self.translate(exc) from None
        upload = RbdUpload(self, ioctx, image, key, size or 0)
        try:
            image.metadata_set(rbd_leftovers.PENDING_MARK, repr(time.time()))
        except BaseException as exc:
            upload.abort()
            raise self.translate(exc) from None
        return upload

    def _create(self, ioctx: Any, key: str, size: int) -> None:
        """Create the RBD image ``key``, replacing the leftover of an earlier upload of it (not a committed one)."""
        try:
            self._rbd.RBD().create(ioctx, key, size, order=self._order, old_format=False, features=self.features)
        except self._rbd.ImageExists:
            if rbd_leftovers.started(self._rbd, ioctx, key) is None or not rbd_leftovers.remove(self._rbd, ioctx, key):
                raise
            self._rbd.RBD().create(ioctx, key, size, order=self._order, old_format=False, features=self.features)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        ioctx = self.ioctx()
        try:
            image = self._rbd.Image(ioctx, _checked(key), snapshot=SNAPSHOT, read_only=True)
            size = image.size()
        except BaseException as exc:
            ioctx.close()
            raise self.translate(exc) from None
        end = size if length is None else min(size, offset + length)
        return Readahead(_ImageChunks(self, ioctx, image, offset, end), name="rbd-readahead")

    def delete(self, key: str) -> None:
        """Remove the RBD image ``key``, first flattening the copy-on-write copies of it this driver made.

        Raises :class:`StoreError` when its snapshot has clones made by others
        (Nova's, Cinder's: the image is in use), or when a flatten fails; the
        image is left whole then. Flattening copies the image's data into each
        clone, inside the cluster, before this returns.
        """
        ioctx = self.ioctx()
        try:
            rbd_clones.flatten_children(self, ioctx, _checked(key))
            rbd_leftovers.drop_snapshots(self._rbd, ioctx, key)
            self._rbd.RBD().remove(ioctx, key)
        except self._rbd.ImageNotFound:
            return
        except (self._rbd.ImageBusy, self._rbd.ImageHasSnapshots):
            raise StoreError("rbd store: the image is in use (it has clones made by others, or open watchers)") \
                from None
        except BaseException as exc:
            raise self.translate(exc) from None
        finally:
            ioctx.close()

    def stat(self, key: str) -> int:
        ioctx = self.ioctx()
        try:
            with self._rbd.Image(ioctx, _checked(key), snapshot=SNAPSHOT, read_only=True) as image:
                return int(image.size())
        except BaseException as exc:
            raise self.translate(exc) from None
        finally:
            ioctx.close()

    def check(self) -> None:
        self.ioctx().close()

    def purge_incomplete(self, *, older_than: float) -> list[str]:
        """Remove the RBD images of uploads started ``older_than`` seconds ago or more that never got ``snap``.

        Only images this driver started (see :mod:`~glimpse.stores.rbd_leftovers`);
        one still open by a live writer is busy and stays. Returns their keys.
        """
        return rbd_leftovers.purge(self, older_than=older_than)

    def adopt(self, source: object, source_key: str, key: str) -> StoredObject | None:
        """Rename the RBD image ``source_key`` of another rbd store on the same cluster and pool to ``key`` (no
        byte is copied); ``None`` when ``source`` is elsewhere. The source object is gone afterwards."""
        if not isinstance(source, RbdStore) or (source._fsid, source._pool) != (self._fsid, self._pool) \
                or not self._fsid:
            return None
        ioctx = self.ioctx()
        try:
            self._rbd.RBD().rename(ioctx, _checked(source_key), _checked(key))
        except BaseException as exc:
            raise self.translate(exc) from None
        finally:
            ioctx.close()
        return StoredObject(key=key, url=self.url_for(key), size=self.stat(key))

    def clone(self, source: object, source_key: str, key: str) -> StoredObject | None:
        """Make ``key`` a copy-on-write clone of the committed RBD image ``source_key`` of another rbd store on the
        same cluster, in any pool (no byte is copied; see :mod:`~glimpse.stores.rbd_clones`). ``None`` when
        ``source`` is elsewhere, ``copy_on_write_clones`` is off, or this store's user may not clone from the
        source's pool. The clone has its own ``snap``: it is read, stat'ed and deleted like any other image."""
        if not self._clones or not isinstance(source, RbdStore) or source.fsid() != self.fsid():
            return None
        ioctx = self.ioctx()
        try:
            parent_ioctx = self.ioctx(source._pool)
            try:
                rbd_clones.make(self, parent_ioctx, _checked(source_key), ioctx, _checked(key))
            finally:
                parent_ioctx.close()
        except (self._rados.PermissionDeniedError, self._rbd.PermissionError):
            return None
        except BaseException as exc:
            raise self.translate(exc) from None
        finally:
            ioctx.close()
        return StoredObject(key=key, url=self.url_for(key), size=self.stat(key))

    def fsid(self) -> str:
        """The cluster's fsid (from ``ceph.conf``, else asked of the cluster)."""
        if not self._fsid:
            self._connected()
        return self._fsid

    def list_keys(self) -> Iterator[str]:
        """Every RBD image's name in the pool, written or being written (the listing ``glimpse-manage orphans`` uses)."""
        ioctx = self.ioctx()
        try:
            names = list(self._rbd.RBD().list(ioctx))
        except BaseException as exc:
            raise self.translate(exc) from None
        finally:
            ioctx.close()
        yield from (str(name) for name in names)

    def writers(self) -> ThreadPoolExecutor:
        """The threads that write pieces of uploads in the background (made on first use, after fork)."""
        with self._lock:
            if self._writers is None:
                self._writers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="rbd-writes")
            return self._writers

    def ioctx(self, pool: str | None = None, namespace: str = "") -> Any:
        """A new I/O context on the store's pool, or on ``pool`` (and ``namespace``) of its cluster; the caller
        closes it."""
        pool = pool or self._pool
        cluster = self._connected()
        try:
            ioctx = cluster.open_ioctx(pool)
        except self._rados.ObjectNotFound:
            raise StoreUnavailableError(f"rbd store: pool {pool!r} does not exist") from None
        except BaseException as exc:
            raise self.translate(exc) from None
        if namespace:
            ioctx.set_namespace(namespace)
        return ioctx

    def _connected(self) -> Any:
        with self._lock:
            if self._cluster is None:
                timeout = str(max(1, int(self._op_timeout)))
                # connect()'s own timeout argument is ignored by librados; client_mount_timeout is what bounds it
                conf = {"rados_osd_op_timeout": timeout, "rados_mon_op_timeout": timeout,
                        "client_mount_timeout": str(max(1, int(self._connect_timeout))),
                        # a lock left by a write that lost the cluster may be this process's own: see rbd_leftovers
                        "rbd_blocklist_on_break_lock": "false"}
                if self._keyring:
                    conf["keyring"] = self._keyring
                cluster = self._rados.Rados(conffile=self._conffile, rados_id=self._user, conf=conf)
                try:
                    cluster.connect()
                    self._fsid = str(cluster.get_fsid())
                except BaseException as exc:
                    cluster.shutdown()
                    raise StoreUnavailableError(
                        f"rbd store: cannot connect to the Ceph cluster ({type(exc).__name__})") from None
                self._cluster = cluster
            return self._cluster

    def translate(self, exc: BaseException) -> StoreError:
        """Our error for a rados/rbd one; messages name the condition only."""
        rados, rbd = self._rados, self._rbd
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, (rbd.ImageNotFound, rados.ObjectNotFound)):
            return StoreObjectNotFound("rbd store: no such image (or it is not committed)")
        if isinstance(exc, (rbd.NoSpace, rados.NoSpace)):
            return StoreFullError("rbd store: the cluster has no room for the image")
        if isinstance(exc, rbd.ImageExists):
            return StoreError("rbd store: an image with this key exists already")
        if isinstance(exc, (rados.TimedOut, rbd.Timeout, rados.PermissionDeniedError, rbd.PermissionError,
                            rados.IOError,
                            rbd.IOError, rados.ConnectionShutdown)):
            return StoreUnavailableError(f"rbd store: the cluster is not answering ({type(exc).__name__})")
        if isinstance(exc, (rbd.Error, rados.Error)):
            return StoreError(f"rbd store: {type(exc).__name__}")
        if isinstance(exc, Exception):
            return StoreError(f"rbd store: unexpected error ({type(exc).__name__})")
        raise exc


class RbdUpload(PieceWriter):
    """A pending RBD image: one ``chunk_size`` piece filling while earlier ones are written by the store's threads.

    Up to :data:`WRITES_IN_FLIGHT` pieces are written at once (disjoint
    ranges); growing the image waits until none is.

    Snapshot on commit, removal on abort. No thread holds the upload between
    pieces, so one dropped without abort (a writer that died) releases its
    RBD image handle when collected.
    """

    driver = "rbd store"

    def __init__(self, store: RbdStore, ioctx: Any, image: Any, key: str, capacity: int) -> None:
        super().__init__(store.chunk_size)
        self.key = key
        self._store = store
        self._ioctx = ioctx
        self._image: Any = image
        self._capacity = capacity
        self._buffer = bytearray()
        self._sends: ParallelSends | None = None
        #: bytes handed to the writer threads
        self._offset = 0
        self._cluster_lost = False

    def local_path(self) -> str | None:
        return None

    def add_to_piece(self, data: memoryview) -> None:
        self._buffer += data

    def end_piece(self) -> None:
        self._hand_over()

    def commit(self) -> StoredObject:
        if self.finished:
            raise StoreError("rbd store: commit after commit or abort")
        try:
            self._hand_over()
            self._settle()
            if self._capacity != self._offset:
                self._image.resize(self._offset)
            self._image.flush()
            self._image.create_snap(SNAPSHOT)
            self._image.protect_snap(SNAPSHOT)
        except BaseException as exc:
            error = self._lost_if_unavailable(self._store.translate(exc))
            self.abort()
            raise error from None
        self._close()
        self.finished = True
        return StoredObject(key=self.key, url=self._store.url_for(self.key), size=self._offset)

    def abort(self) -> None:
        if self.finished:
            return
        self.finished = True
        self._buffer = bytearray()
        if self._sends is not None:
            self._sends.cancel()  # a write that failed is why we abort
        # a cluster that stopped answering would make the removal wait for it again: leave that to the background
        cluster_lost = self._cluster_lost
        self._close()
        try:
            removed = not cluster_lost and rbd_leftovers.remove(self._store.bindings, self._ioctx, self.key)
        except Exception as exc:
            log.warning("rbd store: could not remove the RBD image of an aborted upload of %s (%s); "
                        "trying again in the background", self.key, type(exc).__name__)
            removed = False
        finally:
            self._ioctx.close()
        if not removed:
            rbd_leftovers.remove_later(self._store, self.key)

    def _hand_over(self) -> None:
        """Send the filled buffer to the writer threads (an earlier write's error is raised here)."""
        if not self._buffer:
            return
        piece = bytes(self._buffer)
        self._buffer = bytearray()
        offset, end = self._offset, self._offset + len(piece)
        if end > self._capacity:  # size unknown: grow ahead, in doubling steps, with no write running; commit trims
            self._settle()
            capacity = max(end, 2 * self._capacity)
            try:
                self._image.resize(capacity)
            except BaseException as exc:
                raise self._lost_if_unavailable(self._store.translate(exc)) from None
            self._capacity = capacity
        if self._sends is None:
            self._sends = ParallelSends(self._store.writers(), WRITES_IN_FLIGHT)
        self._noting_loss(lambda: self._sends.submit(self._write_piece, piece, offset))  # type: ignore[union-attr]
        self._offset = end

    def _settle(self) -> None:
        """Wait until every piece handed over is written; raises the first failure."""
        if self._sends is not None:
            self._noting_loss(self._sends.finish)

    def _noting_loss(self, action: Callable[[], None]) -> None:
        try:
            action()
        except StoreError as exc:
            self._lost_if_unavailable(exc)
            raise

    def _lost_if_unavailable(self, error: StoreError) -> StoreError:
        """``error``, noted if it says the cluster stopped answering (the abort then does not wait for it again)."""
        if isinstance(error, StoreUnavailableError):
            self._cluster_lost = True
        return error

    def _write_piece(self, piece: bytes, offset: int) -> None:
        try:
            self._image.write(piece, offset)
        except BaseException as exc:
            raise self._store.translate(exc) from None

    def _close(self) -> None:
        if self._image is not None:
            try:
                self._image.close()
            except Exception:  # closing a handle on a cluster that went away
                pass
            self._image = None


class _ImageChunks:
    """Reads the snapshot of one RBD image from ``offset`` to ``end``; ``close()`` releases it."""

    def __init__(self, store: RbdStore, ioctx: Any, image: Any, offset: int, end: int) -> None:
        self._store = store
        self._ioctx = ioctx
        self._image = image
        self._position = offset
        self._end = end
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._closed or self._position >= self._end:
            self.close()
            raise StopIteration
        try:
            data: bytes = self._image.read(self._position, min(READ_CHUNK, self._end - self._position))
        except BaseException as exc:
            self.close()
            raise self._store.translate(exc) from None
        self._position += len(data)
        return data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._image.close()
            self._ioctx.close()


def _features(rbd: ModuleType, value: object) -> int:
    """The feature bits of ``image_features`` (a comma list of :data:`FEATURES` names, ``layering`` among them)."""
    names = [name.strip() for name in str(value or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise StoreConfigError("image_features", f"has unknown feature(s) {', '.join(unknown)}; "
                                                 f"known: {', '.join(FEATURES)}")
    if "layering" not in names:
        raise StoreConfigError("image_features", "must include layering (Nova, Cinder and copy-image clone images)")
    bits = 0
    for name in names:
        constant, needs = FEATURES[name]
        missing = [needed for needed in needs if needed not in names]
        if missing:
            raise StoreConfigError("image_features", f"{name} needs {', '.join(missing)} too")
        bits |= int(getattr(rbd, constant))
    return bits


def _bindings() -> tuple[ModuleType, ModuleType]:
    try:
        return importlib.import_module("rados"), importlib.import_module("rbd")
    except ImportError:
        raise StoreConfigError("driver", "the rbd driver needs Ceph's Python bindings (python3-rados, python3-rbd; "
                                         "scripts/ceph/venv-bindings.sh links them into a venv)") from None


def _conf_fsid(path: str) -> str:
    """The ``fsid`` of ``[global]`` in a ceph.conf, or ``""``."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True)
    try:
        with open(path, encoding="utf-8") as conf:  # ceph.conf indents its keys, which configparser would not take
            parser.read_string("\n".join(line.strip() for line in conf))
        value = parser.get("global", "fsid", fallback="")
    except (OSError, UnicodeError, configparser.Error):
        return ""
    return (value or "").strip()


def _checked(key: str) -> str:
    if not key or "/" in key or "@" in key:
        raise StoreError(f"invalid object key {key!r}")
    return key
