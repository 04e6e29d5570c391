"""RBD images that uploads left behind: found by their mark, removed now, later, or by the periodic purge.

Every upload marks its RBD image with :data:`PENDING_MARK` (the time it
started) and commit adds the ``snap`` snapshot. An image with the mark and no
snapshot is a *leftover* once its writer is gone: an abort that could not
remove it (the OSD was down), or a writer that crashed. Images without the
mark (Glance's, Cinder's volumes in a shared pool) are never touched.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glimpse.stores.rbd import RbdStore

log = logging.getLogger(__name__)
#: image metadata set when an upload starts (its time): what tells our uncommitted images from anyone else's
PENDING_MARK = "glimpse.upload_started"
SNAPSHOT = "snap"
#: how long, and how often, an abort that could not remove its image tries again in the background
RETRY_FOR = 600.0
RETRY_EVERY = 2.0


def drop_snapshots(rbd: Any, ioctx: Any, name: str) -> None:
    """Unprotect and remove every snapshot of ``name``, so that it can be removed (``ImageNotFound`` propagates)."""
    with rbd.Image(ioctx, name) as image:
        for snap in list(image.list_snaps()):
            if image.is_protected_snap(snap["name"]):
                image.unprotect_snap(snap["name"])
            image.remove_snap(snap["name"])


def started(rbd: Any, ioctx: Any, name: str) -> float | None:
    """When the upload that left ``name`` started, if it is an uncommitted image of ours (else ``None``)."""
    try:
        with rbd.Image(ioctx, name, read_only=True) as image:
            mark = float(image.metadata_get(PENDING_MARK))
            if any(snap["name"] == SNAPSHOT for snap in image.list_snaps()):
                return None
    except (KeyError, ValueError, rbd.ImageNotFound):
        return None
    return mark


def remove(rbd: Any, ioctx: Any, name: str) -> bool:
    """Remove ``name``; ``False`` if it is busy (its writer still has it open), ``True`` once it is gone.

    A writer whose cluster went away mid-write cannot release its exclusive
    lock; with no watcher left on the image, that lock is dead and is broken
    (without blocklisting: the store's connection sets
    ``rbd_blocklist_on_break_lock`` off, as the dead owner may be this very
    process).
    """
    for attempt in (1, 2):
        try:
            rbd.RBD().remove(ioctx, name)
        except rbd.ImageNotFound:
            return True
        except (rbd.ImageBusy, rbd.ImageHasSnapshots):
            if attempt == 2 or not _break_dead_lock(rbd, ioctx, name):
                return False
            continue
        return True
    return False


def _break_dead_lock(rbd: Any, ioctx: Any, name: str) -> bool:
    """Break the exclusive lock of ``name`` if its owner no longer watches the image; whether one was broken."""
    with rbd.Image(ioctx, name) as image:
        if len(list(image.watchers_list())) > 1:  # someone besides this handle (opening read-write watches)
            return False
        owners = list(image.lock_get_owners())
        for owner in owners:
            image.lock_break(owner["mode"], owner["owner"])
    return bool(owners)



def purge(store: RbdStore, *, older_than: float) -> list[str]:
    """Remove the leftovers of uploads started ``older_than`` seconds ago or more; their keys."""
    cutoff = time.time() - older_than
    rbd = store.bindings
    purged: list[str] = []
    ioctx = store.ioctx()
    try:
        for name in rbd.RBD().list(ioctx):
            mark = started(rbd, ioctx, name)
            if mark is not None and mark < cutoff and remove(rbd, ioctx, name):
                purged.append(str(name))
    except BaseException as exc:
        raise store.translate(exc) from None
    finally:
        ioctx.close()
    return purged


def remove_later(store: RbdStore, key: str) -> None:
    """Keep trying to remove the leftover ``key`` in a background thread (for :data:`RETRY_FOR` seconds)."""
    threading.Thread(target=_retry, args=(store, key), name="rbd-remove-later", daemon=True).start()


def _retry(store: RbdStore, key: str) -> None:
    deadline = time.monotonic() + RETRY_FOR
    while time.monotonic() < deadline:
        time.sleep(RETRY_EVERY)
        try:
            ioctx = store.ioctx()
            try:
                if started(store.bindings, ioctx, key) is None or remove(store.bindings, ioctx, key):
                    log.info("rbd store: removed the RBD image an aborted upload of %s left", key)
                    return
            finally:
                ioctx.close()
        except Exception:  # still down: try again
            continue
    log.warning("rbd store: gave up removing the RBD image an aborted upload of %s left; "
                "glimpse-manage cleanup removes it", key)
