"""ACME watermark: a third-party Glimpse extension, installed as its own package by the tests.

* refuses images whose name starts with ``forbidden-`` (403), on create and on rename;
* annotates every new image with the property ``acme_watermark``;
* stamps ``acme_touched`` on every metadata change;
* refuses uploads to images carrying ``acme_no_data`` (403, the image stays queued);
* adds an ``acme.audit`` message to the outbox for every change, and fails the
  change (rolling it back) when the image carries ``acme_explode``;
* adds ``GET /v2/acme/hooks``, which reports how often each hook ran in this process (and what
  each image's last download sent);
* offers the import method ``acme-greeting``, which fills a queued image with a fixed greeting;
* offers the cache filler ``acme``, which copies images carrying ``acme_filler`` from their store into the
  cache, spoiling every byte when the property is ``bad`` (the cache must refuse that copy) and
  stopping half-way, alive but making no progress, when it is ``stall``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.extension_routes import resource
from glimpse.domain.events import OutboxMessage
from glimpse.domain.images import ImageStatus
from glimpse.errors import Forbidden, InvalidRequest
from glimpse.extensions.hookspecs import hookimpl

NAME = "ACME watermark"
CALLS: Counter[str] = Counter()
#: image id -> [bytes sent, complete] of the last download of each image in this process
DOWNLOADS: dict[str, list[Any]] = {}


def _forbid(name: str | None) -> None:
    if name and name.startswith("forbidden-"):
        raise Forbidden(f"ACME policy: image names may not start with 'forbidden-' (got {name!r}).")


async def hooks(request: Request) -> Response:
    return JSONResponse({"calls": dict(CALLS), "downloads": DOWNLOADS})


@hookimpl
def register_routes(settings: Any) -> list[Any]:
    CALLS["register_routes"] += 1
    return [resource("/v2/acme/hooks", GET=hooks)]


@hookimpl
def register_background_tasks(services: Any) -> list[Any]:
    async def heartbeat() -> None:
        CALLS["register_background_tasks"] += 1
        await asyncio.Event().wait()

    return [heartbeat]


class GreetingImport:
    """A third-party import method: the image's data is a fixed greeting."""

    name = "acme-greeting"
    source_status = ImageStatus.QUEUED
    GREETING = b"hello from acme\n" * 64

    def check_request(self, request: Any) -> None:
        if request.uri is not None:
            raise InvalidRequest("acme-greeting takes no 'uri'.")

    def check_image(self, image: Any) -> None:
        return None

    @contextlib.contextmanager
    def open(self, image: Any, request: Any) -> Iterator[tuple[Iterator[bytes], int]]:
        yield iter([self.GREETING]), len(self.GREETING)

    def finished(self, image_id: str) -> None:
        return None


@hookimpl
def register_import_methods(services: Any) -> list[Any]:
    CALLS["register_import_methods"] += 1
    return [GreetingImport()]


@hookimpl
def register_import_plugins(services: Any) -> list[Any]:
    CALLS["register_import_plugins"] += 1
    return []


@hookimpl
def services_opened(services: Any) -> None:
    CALLS["services_opened"] += 1


class AcmeFiller:
    """A cache filler reading the image from its first store (as a peer-to-peer swarm would from peers)."""

    name = "acme"

    def __init__(self, services: Any) -> None:
        self._services = services

    def fill(self, image: Any, path: Any, progress: Any, stop: Any) -> bool:
        mode = image.properties.get("acme_filler")
        if mode not in ("good", "bad", "stall"):
            return False
        location = image.locations[0]
        half = image.size // 2
        chunks = self._services.stores.get(location.store).open(location.key,
                                                                 length=half if mode == "stall" else None)
        try:
            with open(path, "r+b") as out:
                for chunk in chunks:
                    out.write(bytes(len(chunk)) if mode == "bad" else chunk)
                    out.flush()
                    progress(out.tell())
        finally:
            chunks.close()
        if mode == "stall":
            stop.wait(60)  # until the cache gives up on this source
            return False
        return True


@hookimpl
def register_cache_fillers(services: Any) -> list[Any]:
    CALLS["register_cache_fillers"] += 1
    return [AcmeFiller(services)]


@hookimpl
def image_data_opening(ctx: Any, image: Any, offset: int, length: int, partial: bool) -> None:
    CALLS["image_data_opening"] += 1
    return None


@hookimpl
def image_cached(image: Any, path: Any) -> None:
    CALLS["image_cached"] += 1


@hookimpl
def image_uncached(image_id: str) -> None:
    CALLS["image_uncached"] += 1


@hookimpl
def image_creating(ctx: Any, fields: dict[str, Any]) -> None:
    CALLS["image_creating"] += 1
    _forbid(fields.get("name"))
    fields["acme_watermark"] = f"acme:{ctx.project_id}"


@hookimpl
def image_updating(ctx: Any, before: Any, after: Any) -> Any:
    CALLS["image_updating"] += 1
    _forbid(after.name)
    return dataclasses.replace(after, properties={**after.properties, "acme_touched": "yes"})


@hookimpl
def image_upload_started(ctx: Any, image: Any) -> None:
    CALLS["image_upload_started"] += 1
    if "acme_no_data" in image.properties:
        raise Forbidden("ACME policy: this image may not have data.")


@hookimpl
def change_committing(settings: Any, event: Any) -> list[OutboxMessage]:
    CALLS["change_committing"] += 1
    if "acme_explode" in event.image.properties:
        raise RuntimeError("ACME audit refused to record this change")
    return [OutboxMessage(event_type="acme.audit", priority="INFO", key=event.key,
                          body={"event": event.name, "image_id": event.image.id})]


@hookimpl
def template_change_committing(settings: Any, event: Any) -> list[OutboxMessage]:
    CALLS["template_change_committing"] += 1
    return [OutboxMessage(event_type="acme.audit", priority="INFO", key=event.key,
                          body={"event": event.name, "template_id": event.template.id})]




@hookimpl
def image_created(ctx: Any, image: Any) -> None:
    CALLS["image_created"] += 1


@hookimpl
def image_updated(ctx: Any, before: Any, after: Any) -> None:
    CALLS["image_updated"] += 1


@hookimpl
def image_activated(ctx: Any, image: Any) -> None:
    CALLS["image_activated"] += 1


@hookimpl
def image_upload_failed(ctx: Any, image: Any, error: Any) -> None:
    CALLS["image_upload_failed"] += 1


@hookimpl
def image_downloaded(ctx: Any, image: Any, bytes_sent: int, complete: bool) -> None:
    CALLS["image_downloaded"] += 1
    DOWNLOADS[image.id] = [bytes_sent, complete]


@hookimpl
def image_deleted(ctx: Any, image: Any) -> None:
    CALLS["image_deleted"] += 1


@hookimpl
def member_created(ctx: Any, image: Any, member: Any) -> None:
    CALLS["member_created"] += 1


@hookimpl
def member_updated(ctx: Any, image: Any, member: Any) -> None:
    CALLS["member_updated"] += 1


@hookimpl
def member_deleted(ctx: Any, image: Any, member: Any) -> None:
    CALLS["member_deleted"] += 1
