"""``build_app(settings)``: the only place the parts are wired together."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.types import ASGIApp

from glimpse.api import health, identity, metrics, versions
from glimpse.api.errors import EXCEPTION_HANDLERS
from glimpse.api.middleware import EdgeMiddleware
from glimpse.api.upload_slots import UploadSlots
from glimpse.api.routing import resource
from glimpse.api.v2.image_bodies import ImageBodies
from glimpse.api.v2 import openapi
from glimpse.api.v2.routes import routes_for
from glimpse.auth import Authenticator
from glimpse.auth.loader import load_authenticator
from glimpse.server.body_pace import BodyPace
from glimpse.server.guard import EdgeGuard
from glimpse.db.statistics import StatisticsRepository
from glimpse.observability import metrics as node_metrics
from glimpse.observability.access import ObservedApp
from glimpse.observability.state import DatabaseFigures
from glimpse.services import Services, open_services
from glimpse.settings import Settings

log = logging.getLogger("glimpse")

#: How long a background task that failed waits before it is started again, in seconds.
_RESTART_DELAY = 5.0


def build_app(settings: Settings, *, services: Services | None = None, migrate: bool = True) -> ASGIApp:
    """The ASGI application of one node, serving ``services`` (opened from ``settings`` if not given).

    The node serves the API of ``settings.role``, plus the routes of its enabled
    extensions, and runs their background tasks while it is up.
    """
    services = services or open_services(settings, migrate=migrate)
    background = [*services.extensions.background_tasks(services), upload_sweeper(services)]
    if services.settings.delayed_delete and services.settings.scrub_interval > 0:
        background.append(scrubber(services))
    authenticator = build_authenticator(settings, services)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        try:
            async with anyio.create_task_group() as tasks:
                for task in background:
                    tasks.start_soon(_supervised, task)
                try:
                    yield
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            await authenticator.close()
            services.close()

    # The API's routes first: the router tries them in order, and none of these paths overlap.
    routes = [
        *routes_for(settings),
        resource("/", GET=versions.multiple_choices),
        resource("/versions", GET=versions.versions),
        resource("/openapi.json", GET=openapi.document),
        resource("/healthcheck", GET=health.healthcheck),
        *([resource("/metrics", GET=metrics.metrics)] if settings.metrics_access != "off" else []),
        # Without Keystone, the identity lookups the openstack CLI makes are answered here.
        *([resource(path, **methods) for path, methods in identity.ROUTES]
          if settings.auth_strategy != "keystone" else []),
        *services.extensions.routes(settings),
    ]
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.services = services
    app.state.image_bodies = ImageBodies(services.schema, multi_store=services.stores.multiple)
    app.state.upload_slots = UploadSlots(settings.max_uploads_per_worker, settings.max_uploads_per_project)
    figures = DatabaseFigures(StatisticsRepository(services.database), max_age=settings.metrics_cache_seconds)
    app.state.scrape = lambda: node_metrics.render(figures)
    edge = EdgeMiddleware(app, authenticator, settings.public_endpoint,
                          registry=settings.registry_endpoint, streaming=settings.streaming_endpoint,
                          cache=versions.CACHE_EXTENSION in services.extensions.infos)
    observed: ASGIApp = ObservedApp(EdgeGuard(edge, BodyPace.from_settings(settings)),
                                    metrics_access=settings.metrics_access, scrape=app.state.scrape,
                                    access_log_enabled=settings.access_log)
    if settings.otel_enabled:
        from glimpse.observability.tracing import instrument

        observed = instrument(observed, services.database.engine)
    return observed


def build_authenticator(settings: Settings, services: Services) -> Authenticator:
    """The authentication strategy ``settings.auth_strategy`` names (a ``glimpse.auth`` entry point)."""
    return load_authenticator(settings, services)


def upload_sweeper(services: Services) -> Callable[[], Awaitable[None]]:
    """The background task returning to ``queued`` images whose uploading process died (every lease/3 s)."""
    lease = dt.timedelta(seconds=services.settings.upload_lease_seconds)

    async def sweep_abandoned_uploads() -> None:
        while True:
            await anyio.sleep(lease.total_seconds() / 3 * random.uniform(0.8, 1.2))
            await anyio.to_thread.run_sync(functools.partial(services.maintenance.release_abandoned_uploads,
                                                             lease=lease))
            await anyio.to_thread.run_sync(functools.partial(
                services.maintenance.sweep_imports, lease=dt.timedelta(seconds=services.settings.import_lease_seconds),
                staging_ttl=dt.timedelta(seconds=services.settings.staging_time_to_live)))

    return sweep_abandoned_uploads


def scrubber(services: Services) -> Callable[[], Awaitable[None]]:
    """The background task removing the data of ``pending_delete`` images after ``scrub_time``."""
    settings = services.settings

    async def scrub_pending_deletes() -> None:
        while True:
            await anyio.sleep(settings.scrub_interval * random.uniform(0.8, 1.2))
            await anyio.to_thread.run_sync(functools.partial(
                services.maintenance.scrub, older_than=dt.timedelta(seconds=settings.scrub_time)))

    return scrub_pending_deletes


async def _supervised(task: Callable[[], Awaitable[None]]) -> None:
    """Run a background task for the node's lifetime, starting it again if it fails."""
    while True:
        try:
            await task()
            return
        except Exception:
            log.exception("background task %s failed; restarting it in %.0f s",
                          getattr(task, "__qualname__", task), _RESTART_DELAY)
            await anyio.sleep(_RESTART_DELAY)
