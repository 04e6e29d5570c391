"""Housekeeping an operator runs (``glimpse-manage cleanup``) or a scheduler calls."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from glimpse.clock import utcnow
from glimpse.db.images import ImageRepository
from glimpse.db.tasks import TaskRepository
from glimpse.domain.images import Image, ImageStatus, transition
from glimpse.errors import ImageGone, ImageNotFound
from glimpse.services.access import ImageAccess
from glimpse.services.events import image_event
from glimpse.services.image_data import back_to_queued
from glimpse.services.imports import TASK_PROPERTY, ImportService
from glimpse.services.ingest import IngestPipeline
from glimpse.services.stores import STAGING_STORE, StoreSet, staging_prefixes

log = logging.getLogger(__name__)


class MaintenanceService:
    def __init__(self, access: ImageAccess, stores: StoreSet, imports: ImportService,
                 tasks: TaskRepository, ingest: IngestPipeline) -> None:
        self._access = access
        self._ingest = ingest
        self._images: ImageRepository = access.images
        self._stores = stores
        self._imports = imports
        self._tasks = tasks

    def cleanup(self, *, stale_after: dt.timedelta) -> list[str]:
        """Remove data no image needs and reset uploads that stopped making progress.

        Deleted images' data is removed from the stores; an upload whose
        heartbeat is older than ``stale_after`` is treated as abandoned: its
        partial data goes and its image returns to ``queued``; so does an
        import task that has shown no sign of life. Returns one line per kind of
        work done.
        """
        stale_before = utcnow() - stale_after
        failed_imports = self._imports.fail_stale(older_than=stale_after)
        abandoned = {p.image_id for p in self._images.pending_deletions(stale_before=stale_before)
                     if p.status == "pending"}
        removed = self._stores.purge(self._images, stale_before=stale_before)
        reset = 0
        for image_id in abandoned:
            try:
                queued = self._access.change(image_id, back_to_queued, events=lambda before, after: [
                    image_event("image.upload", None, after, error="upload abandoned"),
                    image_event("image.update", None, after)])
                if queued.status is ImageStatus.QUEUED:
                    reset += 1
            except ImageNotFound:
                continue
        temporary = self._ingest.purge_spool(older_than=stale_after.total_seconds())
        for store_id, store in self._stores.stores.items():
            if store_id in self._stores.read_only:
                continue
            purge = getattr(store, "purge_incomplete", None)
            if purge is not None:
                temporary += len(purge(older_than=stale_after.total_seconds()))
        return [
            f"removed data of {removed} location(s) no longer in use",
            f"returned {reset} image(s) with abandoned uploads to queued",
            f"removed {temporary} incomplete temporary file(s)",
            f"failed {failed_imports} import task(s) whose node went away",
        ]

    def release_abandoned_uploads(self, *, lease: dt.timedelta) -> int:
        """Return to ``queued`` every image whose uploading process stopped renewing its lease.

        Cheap enough to run every few seconds on every node: one indexed read
        when nothing expired. Each expired location is claimed with a
        compare-and-swap first, so of several nodes sweeping at once exactly one
        removes the partial data and resets the image. Returns how many it reset.
        """
        leases = self._images.leases
        if leases is None:
            return 0
        reset = 0
        for expired in leases.expired(lease=lease):
            if not leases.claim(expired.location_id, lease=lease):
                continue  # another node took it
            if self._images.superseded(expired.location_id, expired.store, expired.key):
                # a failed upload's record: the image's current upload writes that key now, and is not this one
                self._images.release_location(expired.location_id)
                continue
            try:
                self._stores.get(expired.store).delete(expired.key)
            except Exception:  # leave it to glimpse-manage cleanup, which deletes before it resets
                log.warning("could not remove the partial data of image %s; cleanup will", expired.image_id,
                            exc_info=True)
                self._images.set_location_status(expired.location_id, "pending")
                continue
            self._images.release_location(expired.location_id)
            try:
                queued = self._access.change(expired.image_id, back_to_queued, events=lambda before, after: [
                    image_event("image.upload", None, after, error="upload abandoned: its worker stopped"),
                    image_event("image.update", None, after)])
            except ImageNotFound:
                continue
            if queued.status is ImageStatus.QUEUED:
                log.warning("image %s returned to queued: the process uploading it stopped", expired.image_id)
                reset += 1
        return reset

    def scrub(self, *, older_than: dt.timedelta) -> int:
        """Remove the data of ``pending_delete`` images deleted more than ``older_than`` ago; how many images.

        Each image is claimed by its ``pending_delete -> deleted`` change, a
        compare-and-swap in the database: of several scrubbers (nodes, or
        ``glimpse-manage scrub``) exactly one removes an image's data.
        """
        scrubbed = 0
        for image_id in self._images.pending_delete_before(utcnow() - older_than):

            def deleted(current: Image) -> Image:
                if current.status is not ImageStatus.PENDING_DELETE:
                    raise ImageGone(f"Image {current.id} is no longer pending delete.")
                return dataclasses.replace(transition(current, ImageStatus.DELETED), locations=())

            try:
                self._access.change(image_id, deleted)
            except (ImageNotFound, ImageGone):
                continue  # restored, or another scrubber took it
            self._stores.purge(self._images, image_id)
            scrubbed += 1
        return scrubbed

    def orphans(self, *, delete: bool = False) -> list[str]:
        """Objects in the stores that no image record refers to, one line each (removed with ``delete``).

        A store whose driver cannot list its objects (no ``list_keys``) is
        skipped with a line saying so; read-only stores are listed, never changed.
        """
        lines: list[str] = []
        shared = staging_prefixes(self._stores)
        for store_id, store in self._stores.stores.items():
            list_keys = getattr(store, "list_keys", None)
            if list_keys is None:
                lines.append(f"store {store_id}: skipped, its driver cannot list its objects")
                continue
            keys = list(list_keys())
            if store_id not in self._stores.internal:  # staged objects kept in this store are the staging store's
                keys = [key for key in keys if not key.startswith(shared)]
            referenced = self._images.referenced_keys(store_id)  # read after listing: a new upload is never an orphan
            for key in sorted(k for k in keys if k not in referenced):
                if delete and store_id not in self._stores.read_only:
                    self._stores.get(store_id).delete(key)
                    lines.append(f"store {store_id}: removed orphan {key}")
                else:
                    lines.append(f"store {store_id}: orphan {key}")
        return lines

    def sweep_imports(self, *, lease: dt.timedelta, staging_ttl: dt.timedelta) -> tuple[int, int]:
        """Fail import tasks silent for ``lease`` (their node died) and remove staged data older than
        ``staging_ttl`` (its image returns to ``queued``); ``(tasks failed, stages removed)``.

        Safe on every node at once: a task is failed and an image reverted by
        compare-and-swap, and a staging record is claimed (deleted) before its data is.
        """
        self._imports.renew()
        failed = self._imports.fail_stale(older_than=lease)
        swept = 0
        for staged in self._images.staged_before(STAGING_STORE, utcnow() - staging_ttl):
            image = self._images.get(staged.image_id)
            if image is not None and image.properties.get(TASK_PROPERTY):
                continue  # being imported right now
            if not self._images.claim_staged(staged.location_id):
                continue  # another node took it, or the import did
            try:
                self._stores.get(STAGING_STORE).delete(staged.key)
            except Exception:
                log.warning("could not remove staged data of image %s", staged.image_id, exc_info=True)
            try:
                self._access.change(staged.image_id, back_to_queued, events=lambda before, after: [
                    image_event("image.upload", None, after, error="staged data expired before it was imported"),
                    image_event("image.update", None, after)])
            except ImageNotFound:
                pass
            log.warning("image %s: staged data waited more than %s for its import; removed", staged.image_id,
                        staging_ttl)
            swept += 1
        return failed, swept

    def purge(self, *, older_than: dt.timedelta) -> list[str]:
        """Forget images deleted more than ``older_than`` ago, and expired tasks, for good."""
        images = self._images.purge_deleted(utcnow() - older_than)
        tasks = self._tasks.purge_expired()
        return [f"purged {images} deleted image record(s)", f"purged {tasks} expired task(s)"]
