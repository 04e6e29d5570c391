"""Every hook an extension can implement, named after the moment it fires.

Implement a hook by defining a function of the same name decorated with
:data:`hookimpl`, taking any subset of the arguments listed here. Hooks fire as
explicit calls in the service layer's use cases (``services/*.py``), so every
transport (HTTP, AMQP RPC, the CLI) triggers them the same way.

Three kinds of hook:

* **before** a change (``image_creating``, ``image_updating``,
  ``image_upload_started``): may change what is about to be stored or raise a
  :class:`glimpse.errors.GlimpseError` to refuse the operation; the caller gets
  that error (mapped to HTTP like any other domain error).
* **in** a change (``change_committing``): returns messages that are written
  in the same database transaction as the change (the outbox).
* **after** a change (``image_created`` ... ``member_deleted``): observe only;
  an exception is logged and does not undo the change.

Plus the wiring hooks ``register_routes``, ``register_background_tasks``,
``register_import_methods`` and ``register_cache_fillers``, the data-path hook
``image_data_opening``, and the cache's ``image_cached``/``image_uncached``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from pathlib import Path

    from glimpse.cache.fillers import CacheFiller
    from glimpse.context import RequestContext
    from glimpse.domain.events import DomainEvent, OutboxMessage, TemplateEvent
    from glimpse.domain.images import Image
    from glimpse.domain.members import Member
    from glimpse.services import Services
    from glimpse.services.image_data import OpenedData
    from glimpse.services.imports import ImportMethod, ImportPlugin
    from glimpse.settings import Settings

PROJECT = "glimpse"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- wiring


@hookspec
def register_routes(settings: Settings) -> Sequence[BaseRoute]:  # type: ignore[empty-body]
    """Routes this extension adds to the HTTP API, called once when a node's app is built.

    Return Starlette routes (``glimpse.api.extension_routes.resource`` builds one
    with a method table; that module is the edge's public surface for
    extensions). Handlers reach the service layer as
    ``request.app.state.services``. Paths under ``/v2/`` are served with the
    API's error handling and minor-version negotiation.
    """


@hookspec
def register_background_tasks(services: Services) -> Sequence[Callable[[], Awaitable[None]]]:  # type: ignore[empty-body]
    """Coroutine functions to run for the node's lifetime, called when the node starts.

    Each is started once per worker process in the node's event loop and
    cancelled when the node stops; it should loop until cancelled.
    """


@hookspec
def register_import_methods(services: Services) -> Sequence[ImportMethod]:  # type: ignore[empty-body]
    """Import methods this extension offers (``POST /v2/images/{id}/import``), called once per node.

    Each is a :class:`glimpse.services.imports.ImportMethod`: a name clients ask
    for, the image status it starts from, request and image checks, and the
    data source. The method names are listed by ``/v2/info/import``.
    """


@hookspec
def register_import_plugins(services: Services) -> Sequence[ImportPlugin]:  # type: ignore[empty-body]
    """Steps every import's data goes through before the store, in order, called once per node.

    Each is a :class:`glimpse.services.imports.ImportPlugin` (decompression,
    conversion, ...): it gets the image and its data and yields the transformed
    data with the formats it now has; the data is then checked and stored like
    any other.
    """


@hookspec
def services_opened(services: Services) -> None:
    """The service layer of a node was built (once per process that opens it: each worker, each command).

    For extensions that keep per-node state next to the services (the
    ``cache`` extension opens its directory here). Must be quick; start
    long-running work from ``register_background_tasks`` instead.
    """


@hookspec
def register_cache_fillers(services: Services) -> Sequence[CacheFiller]:  # type: ignore[empty-body]
    """Sources the ``cache`` extension tries, in order, before the stores when it fills on a miss.

    Each is a :class:`glimpse.cache.fillers.CacheFiller` (the ``p2p``
    extension's swarm is one). Called once per node when the cache starts.
    """


# -- the data path


@hookspec(firstresult=True)
def image_data_opening(ctx: RequestContext, image: Image, offset: int, length: int,
                       partial: bool) -> OpenedData | None:
    """A download of ``length`` bytes from ``offset`` of an active (or, for admins, deactivated) image is opening.

    The caller may read the image (policy checked, status checked). Return a
    :class:`glimpse.services.image_data.OpenedData` to serve the bytes from
    somewhere else than the stores (the ``cache`` extension serves from its
    node-local copy), or ``None`` to leave it to the stores. The first
    non-``None`` answer wins. Must not raise for a source that cannot serve:
    return ``None`` instead.
    """


# -- the cache (fired by the ``cache`` extension on the node that holds it)


@hookspec
def image_cached(image: Image, path: Path) -> None:
    """A cache file for ``image`` became valid (complete and verified) at ``path`` on this node.

    Fired also for files found valid when the cache's index is rebuilt at
    start-up. The file is never renamed or rewritten while it is valid.
    """


@hookspec
def image_uncached(image_id: str) -> None:
    """This node's cache dropped the image (evicted, invalid, purged, deleted); its file may be unlinked next."""


# -- before a change


@hookspec
def image_creating(ctx: RequestContext, fields: MutableMapping[str, Any]) -> None:
    """An image is about to be created from ``fields`` (already validated against the schema).

    Change ``fields`` in place to transform or annotate the new image (for
    example add a custom property), or raise a ``GlimpseError`` to refuse it.
    Whatever is added is checked against the property quota.
    """


@hookspec
def image_updating(ctx: RequestContext, before: Image, after: Image) -> Image | None:
    """A metadata change (PATCH, tags, deactivate/reactivate) is about to be stored.

    Return a changed copy of ``after`` (``dataclasses.replace``) to store that
    instead, ``None`` to keep it, or raise a ``GlimpseError`` to refuse the change.
    May run more than once for one request when a concurrent writer forces a retry.
    """


@hookspec
def image_upload_started(ctx: RequestContext, image: Image) -> None:
    """Image data is about to be written; ``image`` is now in status ``saving``.

    Raise a ``GlimpseError`` to refuse the upload: the image goes back to
    ``queued`` and the caller gets the error.
    """


# -- in a change


@hookspec
def change_committing(settings: Settings, event: DomainEvent) -> Sequence[OutboxMessage]:  # type: ignore[empty-body]
    """A change described by ``event`` is being written to the database (on the node with ``settings``).

    Runs inside the change's database transaction: return the messages to
    publish about it (the notifications extension turns events into oslo
    notifications). They are stored in the outbox in that same transaction, so
    they exist exactly when the change was committed, and a relay publishes
    them. Must not do I/O of its own.
    """


@hookspec
def template_change_committing(settings: Settings, event: TemplateEvent) -> Sequence[OutboxMessage]:  # type: ignore[empty-body]
    """A server template was created, updated or deleted (``event``), in the change's transaction.

    Like :func:`change_committing`, for templates: return the messages to store
    in the outbox with the change. Must not do I/O of its own.
    """


# -- after a change


@hookspec
def image_created(ctx: RequestContext, image: Image) -> None:
    """An image record was created (status ``queued``)."""


@hookspec
def image_updated(ctx: RequestContext, before: Image, after: Image) -> None:
    """An image's metadata or status was changed by a metadata call (``image_updating`` ran)."""


@hookspec
def image_activated(ctx: RequestContext, image: Image) -> None:
    """An upload finished: the data is stored, verified, and the image is ``active``."""


@hookspec
def image_upload_failed(ctx: RequestContext, image: Image, error: BaseException) -> None:
    """An upload failed with ``error``; its data was removed and the image is back to ``queued``."""


@hookspec
def image_downloaded(ctx: RequestContext, image: Image, bytes_sent: int, complete: bool) -> None:
    """A download stream ended; ``complete`` is False when fewer bytes than asked were sent."""


@hookspec
def image_deleted(ctx: RequestContext, image: Image) -> None:
    """An image was deleted (``image`` is its last state before deletion)."""


@hookspec
def member_created(ctx: RequestContext, image: Image, member: Member) -> None:
    """An image was shared with a project (membership ``pending``)."""


@hookspec
def member_updated(ctx: RequestContext, image: Image, member: Member) -> None:
    """A member project accepted, rejected or reset a share."""


@hookspec
def member_deleted(ctx: RequestContext, image: Image, member: Member) -> None:
    """A share was removed."""
