"""Interoperable image import: staging data, and running an import as a task.

The task machinery is here; where the data comes from is an *import method*,
contributed by extensions (hook ``register_import_methods``; the built-in
``image-import`` extension offers ``glance-direct`` and ``web-download``).
An import runs as a task in a worker thread (image ``importing``), writing
through the same hashing, inspection, quota and store path as a direct upload,
and ends ``active``, or back in ``queued`` with the task telling why.
Staging (``PUT …/stage``, ``queued -> uploading``) keeps data for the
``glance-direct`` method.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from glimpse.context import RequestContext
from glimpse.clock import utcnow
from glimpse.db.tasks import TaskRepository
from glimpse.domain.images import Image, ImageStatus, transition
from glimpse.domain.tasks import IMPORT_TASK_TYPE, Task, TaskStatus
from glimpse.errors import (
    Conflict,
    ImageGone,
    ImageNotFound,
    ImageStatusConflict,
    ImageTooLarge,
    InvalidRequest,
    NotFound,
    SizeMismatch,
)
from glimpse.services.access import ImageAccess
from glimpse.services.events import image_event
from glimpse.services.image_copies import ImageCopies
from glimpse.services.image_data import ImageDataService, back_to_queued
from glimpse.services.ingest import IngestPipeline
from glimpse.services.quotas import ImageLimits, ProjectQuotas
from glimpse.services.staged_imports import Staged
from glimpse.services.stores import STAGING_STORE, StoreSet
from glimpse.stores.base import Store

log = logging.getLogger(__name__)

GLANCE_DIRECT = "glance-direct"
WEB_DOWNLOAD = "web-download"
COPY_IMAGE = "copy-image"
GLANCE_DOWNLOAD = "glance-download"
TASK_PROPERTY = "os_glance_import_task"
IMPORTING_PROPERTY = "os_glance_importing_to_stores"
FAILED_PROPERTY = "os_glance_failed_import"
_HEARTBEAT_SECONDS = 30.0


@dataclass(frozen=True)
class Caller:
    """Who asked for an import, as a remote region is told (glance-download): never recorded in the task."""

    auth_token: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = ()
    service_catalog: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, ctx: RequestContext) -> Caller:
        return cls(ctx.auth_token, ctx.project_id, ctx.user_id, tuple(sorted(ctx.roles)), ctx.service_catalog)

    def headers(self) -> dict[str, str]:
        """The caller's Keystone token; without one (no authentication), the identity headers of that
        convention (``X-Project-Id``, ``X-User-Id``, ``X-Roles``), for a remote that trusts them too."""
        if self.auth_token:
            return {"X-Auth-Token": self.auth_token}
        headers = {"X-Project-Id": self.project_id or "", "X-User-Id": self.user_id or "",
                   "X-Roles": ",".join(self.roles)}
        return {name: value for name, value in headers.items() if value} if self.project_id else {}


@dataclass(frozen=True)
class ImportRequest:
    """What ``POST /v2/images/{id}/import`` asks for."""

    method: str
    uri: str | None = None
    stores: tuple[str, ...] | None = None
    all_stores: bool = False
    all_stores_must_succeed: bool = True
    #: glance-download: where the image comes from
    glance_region: str | None = None
    glance_image_id: str | None = None
    glance_service_interface: str = "public"
    #: the caller (set by :meth:`ImportService.start`; not part of the recorded request)
    caller: Caller = dataclasses.field(default_factory=Caller, repr=False, compare=False)

    def as_input(self) -> dict[str, Any]:
        """The task ``input`` recorded for this request."""
        body: dict[str, Any] = {"import_req": {"method": {"name": self.method}}}
        if self.uri:
            body["import_req"]["method"]["uri"] = self.uri
        if self.glance_image_id:
            body["import_req"]["method"].update(glance_region=self.glance_region, glance_image_id=self.glance_image_id,
                                                glance_service_interface=self.glance_service_interface)
        if self.stores is not None:
            body["import_req"]["stores"] = list(self.stores)
        if self.all_stores:
            body["import_req"]["all_stores"] = True
        body["import_req"]["all_stores_must_succeed"] = self.all_stores_must_succeed
        return body


def parse_import_request(body: Mapping[str, Any]) -> ImportRequest:
    """Validate an import request body; :class:`InvalidRequest` naming what is wrong."""
    method = body.get("method")
    if not isinstance(method, dict) or not isinstance(method.get("name"), str) or not method["name"]:
        raise InvalidRequest("The import request needs a 'method' object with a 'name', "
                             "e.g. {\"method\": {\"name\": \"glance-direct\"}}.")
    for flag in ("all_stores", "all_stores_must_succeed"):
        if flag in body and not isinstance(body[flag], bool):
            raise InvalidRequest(f"'{flag}' must be true or false.")
    stores = body.get("stores")
    if stores is not None and (not isinstance(stores, list) or not stores
                               or not all(isinstance(s, str) and s for s in stores)):
        raise InvalidRequest("'stores' must be a non-empty list of store ids.")
    if stores is not None and body.get("all_stores"):
        raise InvalidRequest("Give either 'stores' or 'all_stores', not both.")
    uri = method.get("uri")
    if method["name"] == WEB_DOWNLOAD and (not isinstance(uri, str) or not uri):
        raise InvalidRequest("The web-download method needs the 'uri' to import from.")
    remote = {name: method.get(name) for name in ("glance_region", "glance_image_id", "glance_service_interface")}
    if method["name"] == GLANCE_DOWNLOAD and not all(
            isinstance(remote[name], str) and remote[name] for name in ("glance_region", "glance_image_id")):
        raise InvalidRequest("The glance-download method needs 'glance_region' and 'glance_image_id' (strings).")
    if remote["glance_service_interface"] is not None and remote["glance_service_interface"] not in (
            "public", "internal", "admin"):
        raise InvalidRequest("'glance_service_interface' must be public, internal or admin.")
    return ImportRequest(method=method["name"], uri=uri if isinstance(uri, str) else None,
                         glance_region=remote["glance_region"], glance_image_id=remote["glance_image_id"],
                         glance_service_interface=remote["glance_service_interface"] or "public",
                         stores=tuple(stores) if stores is not None else None,
                         all_stores=bool(body.get("all_stores", False)),
                         all_stores_must_succeed=bool(body.get("all_stores_must_succeed", True)))


class ImportMethod(Protocol):
    """A way to bring data into an image, contributed by an extension."""

    #: the name clients ask for (``glance-direct``)
    name: str
    #: the status an image must be in for this method (``uploading`` once staged, or ``queued``)
    source_status: ImageStatus

    def check_request(self, request: ImportRequest) -> None:
        """Raise :class:`InvalidRequest` if the request's parameters do not fit this method."""

    def check_image(self, image: Image) -> None:
        """Raise :class:`Conflict` if the image cannot be imported this way now."""

    def open(self, image: Image, request: ImportRequest) -> AbstractContextManager[tuple[Iterator[bytes], int | None]]:
        """The data to import and its size if known, for the duration of the ``with`` block."""
        ...

    def finished(self, image_id: str) -> None:
        """The import is over (either way): drop whatever the method kept for it."""


@dataclass(frozen=True)
class Transformed:
    """What an :class:`ImportPlugin` made of an import's data, and the formats the result has (``None``: unchanged)."""

    chunks: Iterator[bytes]
    size: int | None
    disk_format: str | None = None
    container_format: str | None = None


class ImportPlugin(Protocol):
    """A step between an import's source and the store (decompression, conversion), contributed by an extension."""

    #: the name operators enable it by (``image-conversion``)
    name: str

    def apply(self, image: Image, chunks: Iterator[bytes], size: int | None) -> AbstractContextManager[Transformed]:
        """The transformed data of ``image`` for the duration of the ``with`` block; raises to fail the import."""
        ...


@runtime_checkable
class RemoteMetadata(Protocol):
    """An import method that brings the image's metadata too (glance-download)."""

    def metadata(self, image: Image, request: ImportRequest) -> Mapping[str, Any]:
        """What to set on the image before its data comes: core attributes by name, custom ones under
        ``properties``. Raises to fail the import."""
        ...


#: Core attributes an import may take from the image it copies (the settable ones that describe the data).
COPIED_ATTRIBUTES = ("disk_format", "container_format", "min_disk", "min_ram")


@runtime_checkable
class StagedMethod(Protocol):
    """An import method whose data may already be staged (glance-direct): imported without a second write."""

    def staged(self, image: Image) -> Staged | None:
        """The image's staged data with what staging measured, or ``None`` (then :meth:`ImportMethod.open`)."""
        ...


class ImportService:
    def __init__(self, access: ImageAccess, data: ImageDataService, stores: StoreSet, tasks: TaskRepository,
                 quotas: ProjectQuotas, ingest: IngestPipeline, *, size_cap: int, task_lifetime: dt.timedelta,
                 threads: int = 2, limits: ImageLimits | None = None) -> None:
        self._access = access
        self._limits = limits
        self._ingest = ingest
        self._images = access.images
        self._data = data
        self._stores = stores
        self._tasks = tasks
        self._quotas = quotas
        self._size_cap = size_cap
        self._task_lifetime = task_lifetime
        self._threads = threads
        self._methods: dict[str, ImportMethod] = {}
        self._plugins: tuple[ImportPlugin, ...] = ()
        self._executor: ThreadPoolExecutor | None = None
        self._copies = ImageCopies(access, stores, ingest)
        #: ids of the tasks this process runs or has queued: their leases are renewed by :meth:`renew`
        self._held: set[str] = set()

    def enable(self, methods: Iterable[ImportMethod], plugins: Iterable[ImportPlugin] = ()) -> None:
        """Offer these import methods, and run every import's data through ``plugins`` in order
        (called once, with what the extensions contribute)."""
        self._methods = {method.name: method for method in methods}
        self._plugins = tuple(plugins)

    @property
    def methods(self) -> tuple[str, ...]:
        """Names of the import methods that work on this node, for ``/v2/info/import``
        (copy-image only where more than one store takes data)."""
        return tuple(name for name in self._methods if name != COPY_IMAGE or self._copies.possible)

    # -- staging

    def stage(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], *, size: int | None = None) -> Image:
        """Keep the image's data in staging for a later ``glance-direct`` import.

        ``queued -> uploading``; sets ``size``. Raises :class:`NotFound` when
        glance-direct is not enabled, :class:`ImageStatusConflict` unless the
        image is queued, :class:`ImageTooLarge`, :class:`SizeMismatch` and
        :class:`QuotaExceeded` (staging bytes, concurrent uploads).
        """
        if GLANCE_DIRECT not in self._methods:
            raise NotFound("The glance-direct import method is not enabled on this site, so nothing can be staged.")
        image = self._access.find_for(ctx, image_id, "modify_image", "stage data for")
        if size is not None and size < 0:
            raise SizeMismatch("The declared image size cannot be negative.")
        if size is not None and size > self._size_cap:
            raise ImageTooLarge(f"Image size {size} exceeds the maximum of {self._size_cap} bytes.")
        self._access.change(image.id, _start_uploading,
                            guard=lambda before, _after: self._quotas.for_stage_start(before.owner, size),
                            events=lambda before, after: [
                                image_event("image.update", ctx, after),
                                image_event("image.prepare", ctx, after, store=STAGING_STORE)])
        staging = self._stores.get(STAGING_STORE)
        key = image.id
        location_id = self._images.reserve_location(image.id, STAGING_STORE, key, staging.url_for(key))
        try:
            ingested = self._ingest.ingest(STAGING_STORE, staging, key, chunks, declared=size,
                                           quota_left=self._quotas.remaining_stage_bytes(image.owner),
                                           quota_name="image_stage_total",
                                           heartbeat=lambda: self._images.touch_location(location_id))
            staged = self._access.change(
                image.id, lambda current: _staged(current, ingested.size),
                guard=lambda before, _after: self._quotas.for_staged_data(before.owner, ingested.size),
                events=lambda before, after: [image_event("image.upload", ctx, after, store=STAGING_STORE),
                                              image_event("image.update", ctx, after)])
        except BaseException as exc:
            self._unstage(staging, image.id, location_id)
            if isinstance(exc, ImageNotFound):
                raise ImageGone(f"Image {image.id} was deleted while its data was being staged.") from None
            if isinstance(exc, ImageGone):
                raise
            self._requeue(ctx, image.id, exc)
            raise
        self._images.set_location_status(location_id, "staged", meta=Staged.record(
            ingested.size, ingested.checksum, ingested.os_hash_algo, ingested.os_hash_value))
        return self._access.present(ctx, staged)

    def _unstage(self, staging: Store, image_id: str, location_id: int) -> None:
        try:
            staging.delete(image_id)
            self._images.release_location(location_id)
        except Exception:  # the record stays "pending"; glimpse-manage cleanup removes it later
            log.exception("could not remove staged data of image %s", image_id)

    def _requeue(self, ctx: RequestContext, image_id: str, error: BaseException) -> None:
        try:
            self._access.change(image_id, back_to_queued, events=lambda before, after: [
                image_event("image.upload", ctx, after, error=f"Failed to stage data for image {image_id}: {error}"),
                image_event("image.update", ctx, after)])
        except Exception:
            log.exception("could not put image %s back to queued after failed staging", image_id)

    # -- importing

    def start(self, ctx: RequestContext, image_id: str, request: ImportRequest, *,
              task_type: str = IMPORT_TASK_TYPE, task_input: dict[str, Any] | None = None) -> Task:
        """Check an import request and start it as a task; returns the task (``pending``).

        ``task_type`` and ``task_input`` are what the task records (the legacy
        ``/v2/tasks`` import keeps its own).

        Raises :class:`InvalidRequest` (method not enabled, bad parameters),
        :class:`ImageNotFound`, :class:`Forbidden` (not the owner) and
        :class:`Conflict` (wrong status, formats unset, unknown store, another
        import running).
        """
        request = dataclasses.replace(request, caller=Caller.of(ctx))
        method = self._methods.get(request.method) if request.method in self.methods else None
        if method is None:
            enabled = ", ".join(self.methods) or "none"
            raise InvalidRequest(f"Import method '{request.method}' is not enabled on this site; enabled: {enabled}.")
        method.check_request(request)
        image = self._access.find_for(ctx, image_id, "modify_image", "import data into")
        if method.name == COPY_IMAGE:
            return self._start_copy(ctx, image, request, task_type=task_type, task_input=task_input)
        stores = self._target_stores(request)
        _check_importable(image, method)  # a refused import answers the request and leaves no failed task
        task = _new_task(ctx, image, request, task_type, task_input)

        def importing(current: Image) -> Image:
            _check_importable(current, method)
            properties = {k: v for k, v in current.properties.items() if k != FAILED_PROPERTY}
            properties.update({TASK_PROPERTY: task.id, IMPORTING_PROPERTY: ",".join(stores)})
            return dataclasses.replace(transition(current, ImageStatus.IMPORTING), properties=properties)

        self._tasks.add(task)
        try:
            self._access.change(image.id, importing,
                                events=lambda before, after: [image_event("image.update", ctx, after)])
        except BaseException as exc:
            self._tasks.transition(task, TaskStatus.FAILURE, message=str(getattr(exc, "message", exc)),
                                   expires_at=utcnow() + self._task_lifetime)
            raise
        self._submit(task, self._run, ctx, task, method, request, stores)
        return task

    def _start_copy(self, ctx: RequestContext, image: Image, request: ImportRequest, *, task_type: str,
                    task_input: dict[str, Any] | None) -> Task:
        """copy-image: the image stays ``active`` while its data is copied into more stores."""
        if request.all_stores:
            stores = self._copies.missing_from(image)
            if not stores:
                raise Conflict(f"Image {image.id} is already in every store of this site "
                               f"({', '.join(self._stores.writable_ids)}).")
        elif request.stores is None:
            raise InvalidRequest("copy-image needs 'stores' (the stores to copy the image to) or 'all_stores': true.")
        else:
            stores = self._target_stores(request)

        def copying(current: Image) -> Image:
            self._copies.check_targets(current, stores)
            if current.properties.get(TASK_PROPERTY):
                raise Conflict(f"Image {current.id} is already being imported or copied by task "
                               f"{current.properties[TASK_PROPERTY]}.")
            properties = {k: v for k, v in current.properties.items() if k != FAILED_PROPERTY}
            properties.update({TASK_PROPERTY: task.id, IMPORTING_PROPERTY: ",".join(stores)})
            return dataclasses.replace(current, properties=properties)

        task = _new_task(ctx, image, request, task_type, task_input)
        copying(image)  # a refused copy answers the request and leaves no failed task
        self._tasks.add(task)
        try:
            self._access.change(image.id, copying, events=lambda before, after: [image_event("image.update", ctx, after)])
        except BaseException as exc:
            self._tasks.transition(task, TaskStatus.FAILURE, message=str(getattr(exc, "message", exc)),
                                   expires_at=utcnow() + self._task_lifetime)
            raise
        self._submit(task, self._run_copy, ctx, task, request, stores)
        return task

    def _run_copy(self, ctx: RequestContext, task: Task, request: ImportRequest, stores: list[str]) -> None:
        """The copy-image task body: each store in turn; the image stays active in those that succeeded."""
        running = self._tasks.transition(task, TaskStatus.PROCESSING) or task
        image_id = task.image_id or ""
        beat = _Heartbeat(lambda: self._tasks.touch(task.id))
        copied: list[str] = []
        failed: list[str] = []
        errors: list[str] = []
        for store_id in stores:
            if failed and request.all_stores_must_succeed:
                failed.append(store_id)
                continue
            try:
                self._copies.copy(ctx, image_id, store_id, heartbeat=beat)
                copied.append(store_id)
            except Exception as exc:
                log.info("copy of image %s to store %s failed: %s", image_id, store_id, exc)
                failed.append(store_id)
                errors.append(f"Copying image {image_id} to store '{store_id}' failed: "
                              f"{getattr(exc, 'message', exc)}")

        def settled(current: Image) -> Image:
            if current.properties.get(TASK_PROPERTY) != task.id:
                return current
            return _finished(current, failed)

        with contextlib.suppress(ImageNotFound):
            self._access.change(image_id, settled, events=lambda before, after: [image_event("image.update", ctx, after)])
        expires = utcnow() + self._task_lifetime
        if failed and (request.all_stores_must_succeed or not copied):
            kept = f" It stays active in {', '.join(copied)} and the stores it was in before." if copied else ""
            self._tasks.transition(running, TaskStatus.FAILURE, message=" ".join(errors) + kept, expires_at=expires)
        else:
            self._tasks.transition(running, TaskStatus.SUCCESS, result={"image_id": image_id, "stores": copied,
                                                                        "failed_stores": failed}, expires_at=expires)

    def tasks_for_image(self, ctx: RequestContext, image_id: str) -> list[Task]:
        """The image's unexpired tasks; :class:`ImageNotFound` if the caller cannot see it."""
        image = self._access.find(ctx, image_id)
        return self._tasks.for_image(image.id)

    def _target_stores(self, request: ImportRequest) -> list[str]:
        configured = self._stores.offered
        if request.all_stores:
            writable = self._stores.writable_ids
            return [self._stores.default, *(s for s in writable if s != self._stores.default)]
        if request.stores is None:
            return [self._stores.default]
        unknown = [s for s in request.stores if s not in configured]
        if unknown:
            raise Conflict(f"Unknown store(s) {', '.join(unknown)}; this site has {', '.join(configured)}.")
        for store_id in request.stores:
            self._stores.writable(store_id)
        return list(dict.fromkeys(request.stores))

    def _submit(self, task: Task, body: Callable[..., None], *args: Any) -> None:
        """Run ``body(*args)`` in the pool, holding the task's lease until it ends."""
        self._held.add(task.id)

        def held() -> None:
            try:
                body(*args)
            finally:
                self._held.discard(task.id)

        self._pool().submit(contextvars.copy_context().run, held)

    def renew(self) -> int:
        """Renew the lease (``updated_at``) of every task this process runs or has queued; how many.

        Called by every process's sweep, so a task waiting for a free import
        thread is not taken for one whose node died."""
        for task_id in list(self._held):
            self._tasks.touch(task_id)
        return len(self._held)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="glimpse-import")
        return self._executor

    def _run(self, ctx: RequestContext, task: Task, method: ImportMethod, request: ImportRequest,
             stores: list[str]) -> None:
        """The task body, in a worker thread: fetch the data, write it, record the outcome."""
        running = self._tasks.transition(task, TaskStatus.PROCESSING) or task
        image_id = task.image_id or ""
        before: Image | None = None  # the image as it was, when the method brought metadata
        try:
            image = self._images.get(image_id)
            if image is None:
                raise ImageGone(f"Image {image_id} was deleted before its import started.")
            if isinstance(method, RemoteMetadata):
                before = image
                image = self._take_metadata(image, method.metadata(image, request))
            staged = method.staged(image) if isinstance(method, StagedMethod) and not self._plugins else None
            if staged is not None:  # the import changes nothing: the staged object becomes the image's
                imported = self._data.import_data(
                    ctx, image_id, (), size=staged.size, store_ids=stores,
                    all_stores_must_succeed=request.all_stores_must_succeed,
                    finish=lambda active, failed: _finished(active, failed),
                    revert=_reverted(task.id, stores),
                    heartbeat=_Heartbeat(lambda: self._tasks.touch(task.id)), staged=staged)
            else:
                imported = self._import_stream(ctx, task, method, request, stores, image)
        except BaseException as exc:  # the task records every failure; nothing propagates from a worker
            message = str(getattr(exc, "message", exc))
            log.info("import task %s for image %s failed: %s", task.id, image_id, message)
            self._fail(running, message, stores, method)
            if before is not None:
                self._untake_metadata(before)
            if not isinstance(exc, Exception):
                raise
            return
        method.finished(image_id)
        self._tasks.transition(running, TaskStatus.SUCCESS, result={"image_id": imported.id},
                               expires_at=utcnow() + self._task_lifetime)

    def _import_stream(self, ctx: RequestContext, task: Task, method: ImportMethod, request: ImportRequest,
                       stores: list[str], image: Image) -> Image:
        """The method's data, through the import plugins, into the stores."""
        with method.open(image, request) as (chunks, size), contextlib.ExitStack() as steps:
            for plugin in self._plugins:
                step = steps.enter_context(plugin.apply(image, chunks, size))
                chunks, size, image = step.chunks, step.size, self._reformat(image, step)
            return self._data.import_data(
                ctx, image.id, chunks, size=size, store_ids=stores,
                all_stores_must_succeed=request.all_stores_must_succeed,
                finish=lambda active, failed: _finished(active, failed),
                revert=_reverted(task.id, stores),
                heartbeat=_Heartbeat(lambda: self._tasks.touch(task.id)))

    def _take_metadata(self, image: Image, remote: Mapping[str, Any]) -> Image:
        """Set what an import method brought of the image's metadata (custom properties within the quota)."""
        attributes = {name: remote[name] for name in COPIED_ATTRIBUTES
                      if name in remote and hasattr(image, name) and remote[name] is not None}
        properties = {str(k): str(v) for k, v in (remote.get("properties") or {}).items()
                      if not str(k).startswith("os_glance")}

        def taken(current: Image) -> Image:
            merged = {**current.properties, **properties}
            if self._limits is not None:
                self._limits.check_properties(merged)
                self._limits.check_property_size(merged, current.properties)
            return dataclasses.replace(current, **attributes, properties=merged)

        return self._access.change(image.id, taken, events=lambda before, after: [
            image_event("image.update", None, after)])

    def _untake_metadata(self, before: Image) -> None:
        """After a failed import, the metadata the image had before the method brought the remote one."""
        def untaken(current: Image) -> Image:
            if current.status is not ImageStatus.QUEUED:
                return current
            kept = {k: v for k, v in before.properties.items()
                    if k not in (TASK_PROPERTY, IMPORTING_PROPERTY, FAILED_PROPERTY)}
            if FAILED_PROPERTY in current.properties:
                kept[FAILED_PROPERTY] = current.properties[FAILED_PROPERTY]
            return dataclasses.replace(current, properties=kept,
                                       **{name: getattr(before, name) for name in COPIED_ATTRIBUTES})

        try:
            self._access.change(before.id, untaken, events=lambda _before, after: [
                image_event("image.update", None, after)])
        except ImageNotFound:
            pass
        except Exception:
            log.exception("could not restore the metadata of image %s after a failed import", before.id)

    def _reformat(self, image: Image, step: Transformed) -> Image:
        """Record the formats an import plugin turned the data into (before the data is checked against them)."""
        disk_format = step.disk_format or image.disk_format
        container_format = step.container_format or image.container_format
        if (disk_format, container_format) == (image.disk_format, image.container_format):
            return image
        return self._access.change(
            image.id, lambda current: dataclasses.replace(current, disk_format=disk_format,
                                                          container_format=container_format),
            events=lambda before, after: [image_event("image.update", None, after)])

    def _fail(self, task: Task, message: str, stores: list[str], method: ImportMethod | None) -> None:
        """Record a failed import: the task says why, the image goes back to ``queued``
        (unless the data service already put it back, with :func:`_reverted`)."""
        image_id = task.image_id or ""
        try:
            self._access.change(image_id, _reverted(task.id, stores), events=lambda before, after: [
                image_event("image.upload", None, after, error=f"Import of image {image_id} failed: {message}"),
                image_event("image.update", None, after)])
        except ImageNotFound:
            pass
        except Exception:
            log.exception("could not put image %s back to queued after a failed import", image_id)
        if method is not None:
            method.finished(image_id)
        self._tasks.transition(task, TaskStatus.FAILURE, message=message, expires_at=utcnow() + self._task_lifetime)

    def fail_stale(self, *, older_than: dt.timedelta) -> int:
        """Fail import tasks whose worker stopped (a node crashed); return how many."""
        stale = self._tasks.stale(utcnow() - older_than)
        for task in stale:
            image = self._images.get(task.image_id or "")
            stores = (image.properties.get(IMPORTING_PROPERTY) or "") if image else ""
            name = ((task.input or {}).get("import_req") or {}).get("method", {}).get("name", "")
            self._fail(task, "The import stopped: the node running it went away.",
                       [s for s in stores.split(",") if s], self._methods.get(name))
        return len(stale)

    def staged_record(self, image_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(key, meta)`` of the image's staged data, if it has some (what glance-direct imports)."""
        return self._images.staged_record(image_id)

    def release_staged(self, image_id: str) -> None:
        """Forget the staging record of an image whose staged data is gone (the glance-direct method's end)."""
        self._images.release_staged(image_id)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _start_uploading(image: Image) -> Image:
    if image.status is not ImageStatus.QUEUED:
        raise ImageStatusConflict(
            f"Image status transition from '{image.status}' to 'uploading' is not allowed: "
            "data can only be staged for a queued image."
        )
    return transition(image, ImageStatus.UPLOADING)


def _staged(image: Image, size: int) -> Image:
    if image.status is not ImageStatus.UPLOADING:
        raise ImageGone(f"Image {image.id} was deleted while its data was being staged.")
    return dataclasses.replace(image, size=size)


def _new_task(ctx: RequestContext, image: Image, request: ImportRequest, task_type: str,
              task_input: dict[str, Any] | None) -> Task:
    now = utcnow()
    return Task(id=str(uuid.uuid4()), type=task_type, status=TaskStatus.PENDING, owner=image.owner,
                created_at=now, updated_at=now, image_id=image.id, request_id=ctx.request_id,
                user_id=ctx.user_id, input=task_input if task_input is not None else request.as_input())


def _check_importable(image: Image, method: ImportMethod) -> None:
    missing = [name for name in ("disk_format", "container_format") if getattr(image, name) is None]
    if missing:
        raise Conflict(f"Property(ies) {', '.join(missing)} must be set prior to importing data.")
    if image.properties.get(TASK_PROPERTY):
        raise Conflict(f"Image {image.id} is already being imported by task {image.properties[TASK_PROPERTY]}.")
    if image.status is not method.source_status:
        raise Conflict(f"Image {image.id} is '{image.status}'; {method.name} needs a "
                       f"'{method.source_status}' image.")
    method.check_image(image)


def _reverted(task_id: str, stores: list[str]) -> Callable[[Image], Image]:
    """What a failed import task does to its image: back to ``queued``, saying which stores failed."""

    def revert(current: Image) -> Image:
        if current.properties.get(TASK_PROPERTY) != task_id:
            return current  # already reverted, or no longer this task's
        queued = back_to_queued(current)
        properties = {k: v for k, v in queued.properties.items() if k not in (TASK_PROPERTY, IMPORTING_PROPERTY)}
        properties[FAILED_PROPERTY] = ",".join(stores)
        return dataclasses.replace(queued, properties=properties)

    return revert


def _finished(image: Image, failed: list[str]) -> Image:
    properties = {k: v for k, v in image.properties.items()
                  if k not in (TASK_PROPERTY, IMPORTING_PROPERTY, FAILED_PROPERTY)}
    if failed:
        properties[FAILED_PROPERTY] = ",".join(failed)
    return dataclasses.replace(image, properties=properties)


class _Heartbeat:
    """Call ``beat`` at most every few seconds (to keep a task from looking abandoned)."""

    def __init__(self, beat: Callable[[], None]) -> None:
        self._beat = beat
        self._last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last >= _HEARTBEAT_SECONDS:
            self._last = now
            self._beat()
