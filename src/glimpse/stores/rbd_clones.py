"""Copy-on-write clones between RBD pools of one cluster: making them, and flattening them before their parent goes.

A clone made here is an RBD image whose parent is the committed image's
protected snapshot ``snap``; it gets its own ``snap`` at once, so it reads,
stats and deletes like any image the driver wrote. It is marked with
:data:`CLONE_MARK` (its parent, ``pool/image``), which is what lets the
driver flatten it when the parent is deleted. Clones made by others (Nova's
and Cinder's disks) carry no mark: their parent stays "in use", as in Glance.

Clones get the target store's ``image_features``, always with ``deep-flatten``:
without it a flattened clone's own snapshot would keep depending on the parent,
which could then never go.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from glimpse.stores import rbd_leftovers
from glimpse.stores.base import StoreError

if TYPE_CHECKING:
    from glimpse.stores.rbd import RbdStore

log = logging.getLogger(__name__)
SNAPSHOT = rbd_leftovers.SNAPSHOT
#: image metadata of a clone this driver made: ``<pool>/<image>`` of its parent
CLONE_MARK = "glimpse.clone_of"


def make(store: RbdStore, parent_ioctx: Any, parent: str, ioctx: Any, name: str) -> None:
    """Clone ``parent``'s ``snap`` (in ``parent_ioctx``'s pool) as ``name`` in ``ioctx``'s pool, marked and with
    its own protected ``snap``; a failure leaves no clone behind (rados/rbd errors propagate)."""
    rbd = store.bindings
    features = store.features | rbd.RBD_FEATURE_DEEP_FLATTEN  # (layering: always in image_features)
    rbd.RBD().clone(parent_ioctx, parent, SNAPSHOT, ioctx, name, features=features, order=store.order)
    try:
        with rbd.Image(ioctx, name) as clone:
            clone.metadata_set(rbd_leftovers.PENDING_MARK, repr(time.time()))  # a crash before snap: a leftover
            clone.metadata_set(CLONE_MARK, f"{parent_ioctx.get_pool_name()}/{parent}")
            clone.create_snap(SNAPSHOT)
            clone.protect_snap(SNAPSHOT)
    except BaseException:
        _discard(rbd, ioctx, name)
        raise


def flatten_children(store: RbdStore, ioctx: Any, name: str) -> None:
    """Flatten every clone of ``name``'s ``snap`` made by :func:`make`, so that ``name`` can be removed.

    Each flatten copies the parent's data into the clone (reads and writes of
    the image's size inside the cluster). Raises :class:`StoreError` before
    flattening anything when a clone is not one of ours (the image is in use),
    and when a flatten fails; ``name`` is untouched either way, and every clone
    is whole (flattened or still a clone).
    """
    rbd = store.bindings
    try:
        with rbd.Image(ioctx, name, snapshot=SNAPSHOT, read_only=True) as image:
            children = list(image.list_children2())
    except rbd.ImageNotFound:  # no snap (an upload that never committed): no clones either
        return
    if not children:
        return
    parent = f"{ioctx.get_pool_name()}/{name}"
    foreign = [f"{child['pool']}/{child['image']}" for child in children
               if child["trash"] or _clone_of(store, child) != parent]
    if foreign:
        raise StoreError(f"rbd store: the image is in use: its snapshot has clones Glimpse did not make "
                         f"({', '.join(sorted(foreign))}); delete or flatten them first")
    for child in children:
        spec = f"{child['pool']}/{child['image']}"
        log.info("rbd store: flattening %s (a copy-on-write copy of %s, which is being deleted)", spec, parent)
        try:
            child_ioctx = store.ioctx(child["pool"], child["pool_namespace"])
            try:
                with rbd.Image(child_ioctx, child["image"]) as clone:
                    clone.flatten()
            finally:
                child_ioctx.close()
        except rbd.ImageNotFound:  # deleted meanwhile: nothing to flatten
            continue
        except BaseException as exc:
            error = store.translate(exc)
            raise type(error)(f"rbd store: flattening {spec}, a copy-on-write copy of the image, failed "
                              f"({type(exc).__name__}); the image was not deleted, try again") from None


def _clone_of(store: RbdStore, child: dict[str, Any]) -> str | None:
    """The parent a child names in its :data:`CLONE_MARK` (``None``: not a clone we made, or unreadable)."""
    rbd = store.bindings
    try:
        child_ioctx = store.ioctx(child["pool"], child["pool_namespace"])
    except StoreError:
        return None
    try:
        with rbd.Image(child_ioctx, child["image"], read_only=True) as clone:
            return str(clone.metadata_get(CLONE_MARK))
    except (KeyError, rbd.ImageNotFound):
        return None
    except BaseException as exc:
        raise store.translate(exc) from None
    finally:
        child_ioctx.close()


def _discard(rbd: Any, ioctx: Any, name: str) -> None:
    """Remove the clone ``name`` that could not be finished, snapshot included (logged if that fails too)."""
    try:
        rbd_leftovers.drop_snapshots(rbd, ioctx, name)
        rbd.RBD().remove(ioctx, name)
    except rbd.ImageNotFound:
        pass
    except Exception as exc:
        log.warning("rbd store: could not remove the unfinished clone %s (%s); glimpse-manage orphans lists it",
                    name, type(exc).__name__)
