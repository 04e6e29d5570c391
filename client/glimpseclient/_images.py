"""``client.images``: image records, tags, actions, data upload/stage/import and download."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

from glimpseclient._downloads import ImageDownload
from glimpseclient._models import IMAGE_BASE_KEYS, Image, Task
from glimpseclient._session import Session, path
from glimpseclient._uploads import CHUNK_SIZE, Progress, UploadSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from glimpseclient._uploads import Source

PATCH_MEDIA_TYPE = "application/openstack-images-v2.1-json-patch"
OCTET_STREAM = "application/octet-stream"


class ImagesAPI:
    def __init__(self, session: Session, chunk_size: int = CHUNK_SIZE) -> None:
        self._session = session
        self._chunk_size = chunk_size

    # -- records -----------------------------------------------------------------------------

    def list(self, *, limit: int | None = None, page_size: int | None = None, tags: Sequence[str] = (),
             sort: str | None = None, **filters: str | int | bool) -> Iterator[Image]:
        """Images visible to the caller, following ``next`` links page by page.

        ``limit`` caps the total; ``page_size`` is the per-request ``limit``;
        ``tags`` must all be present; ``sort`` is ``key:dir,key:dir``; other
        keyword arguments are filters (``name=``, ``status=``, ``visibility=``,
        ``owner=``, ``member_status=``, ``os_hidden=``, custom properties, ...).
        """
        params: list[tuple[str, Any]] = [(k, v) for k, v in filters.items()]
        params += [("tag", tag) for tag in tags]
        if sort:
            params.append(("sort", sort))
        size = page_size or (min(limit, 1000) if limit else None)
        if size:
            params.append(("limit", size))
        for item in self._session.items("/v2/images", "images", params, limit=limit):
            yield Image.from_dict(item)

    def get(self, image_id: str) -> Image:
        return Image.from_dict(self._session.json("GET", path("v2", "images", image_id)))

    def create(self, **fields: Any) -> Image:
        """Create an image record (``POST /v2/images``); custom properties must be strings."""
        return Image.from_dict(self._session.json("POST", "/v2/images", json=fields))

    def update(self, image_id: str, *, set: Mapping[str, Any] | None = None,  # noqa: A002 - reads well
               remove: Sequence[str] = ()) -> Image:
        """Set and remove properties with one JSON patch; base properties are replaced, custom ones added."""
        operations: list[dict[str, Any]] = []
        for key, value in (set or {}).items():
            operations.append({"op": "replace" if key in IMAGE_BASE_KEYS else "add", "path": _pointer(key),
                               "value": value})
        operations += [{"op": "remove", "path": _pointer(key)} for key in remove]
        return self.patch(image_id, operations)

    def patch(self, image_id: str, operations: Sequence[Mapping[str, Any]]) -> Image:
        """Apply raw JSON-patch operations (v2.1 media type)."""


        body = self._session.json("PATCH", path("v2", "images", image_id), body=json.dumps(list(operations)).encode(),
                                  headers={"Content-Type": PATCH_MEDIA_TYPE})
        return Image.from_dict(body)

    def delete(self, image_id: str) -> None:
        self._session.send("DELETE", path("v2", "images", image_id)).close()

    def deactivate(self, image_id: str) -> None:
        self._session.send("POST", path("v2", "images", image_id, "actions", "deactivate")).close()

    def reactivate(self, image_id: str) -> None:
        self._session.send("POST", path("v2", "images", image_id, "actions", "reactivate")).close()

    def add_tag(self, image_id: str, tag: str) -> None:
        self._session.send("PUT", path("v2", "images", image_id, "tags", tag)).close()

    def remove_tag(self, image_id: str, tag: str) -> None:
        self._session.send("DELETE", path("v2", "images", image_id, "tags", tag)).close()

    def tasks(self, image_id: str) -> builtins.list[Task]:
        """Tasks that worked on this image (``GET /v2/images/{id}/tasks``, API 2.12)."""
        body = self._session.json("GET", path("v2", "images", image_id, "tasks"))
        return [Task.from_dict(t) for t in body.get("tasks", [])]

    def wait_for_task(self, image_id: str, *, known: Iterable[str] = (), timeout: float = 3600.0,
                      interval: float = 0.5) -> Task:
        """Follow the image's newest task not in ``known`` (ids seen before an import) until it finishes.

        Raises :class:`TimeoutError` if none appears or it does not finish within ``timeout`` seconds.
        """
        seen = set(known)
        deadline = time.monotonic() + timeout
        while True:
            fresh = [t for t in self.tasks(image_id) if t.id not in seen]
            newest = max(fresh, key=lambda t: str(t.created_at or "")) if fresh else None
            if newest is not None and newest.status in ("success", "failure"):
                return newest
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the import of image {image_id} did not finish within {timeout:.0f} s")
            time.sleep(interval)

    # -- data --------------------------------------------------------------------------------

    def upload(self, image_id: str, data: Source, *, size: int | None = None, progress: Progress | None = None,
               store: str | None = None) -> None:
        """Stream ``data`` into the image (``PUT /file``): a path, a binary file, bytes or an iterable.

        Files and bytes are sent with their length; iterables chunked. Only the
        current chunk is in memory.
        """
        self._put_data(image_id, "file", data, size=size, progress=progress, store=store)

    def stage(self, image_id: str, data: Source, *, size: int | None = None, progress: Progress | None = None) -> None:
        """Stage data for the ``glance-direct`` import method (``PUT /stage``)."""
        self._put_data(image_id, "stage", data, size=size, progress=progress)

    def _put_data(self, image_id: str, kind: str, data: Source, *, size: int | None, progress: Progress | None,
                  store: str | None = None) -> None:
        with UploadSource(data, size=size, progress=progress, chunk_size=self._chunk_size) as source:
            headers = {"Content-Type": OCTET_STREAM}
            if source.length is not None:
                headers["x-openstack-image-size"] = str(source.length)
            if store:
                headers["X-Image-Meta-Store"] = store
            # Not retried after a broken connection: the server may still be rolling the upload back.
            self._session.send("PUT", path("v2", "images", image_id, kind), body=source, headers=headers,
                               idempotent=False).close()

    def import_image(self, image_id: str, method: str = "glance-direct", *, uri: str | None = None,
                     stores: Sequence[str] | None = None, all_stores: bool | None = None,
                     all_stores_must_succeed: bool | None = None, **method_fields: str) -> None:
        """Start an import (``POST /import``, 202): ``glance-direct``, ``web-download`` (``uri``), ``copy-image``..."""
        method_body: dict[str, Any] = {"name": method, **method_fields}
        if uri is not None:
            method_body["uri"] = uri
        body: dict[str, Any] = {"method": method_body}
        if stores is not None:
            body["stores"] = list(stores)
        if all_stores is not None:
            body["all_stores"] = all_stores
        if all_stores_must_succeed is not None:
            body["all_stores_must_succeed"] = all_stores_must_succeed
        self._session.send("POST", path("v2", "images", image_id, "import"), json=body).close()

    def download(self, image_id: str, *, progress: Progress | None = None, verify: bool = True,
                 verify_checksum: bool = False, resumes: int = 5) -> ImageDownload:
        """The image's bytes as a verifying, resuming stream; use it in a ``with`` block.

        Verified against ``os_hash_value`` (else ``checksum``); ``verify_checksum``
        checks the MD5 ``checksum`` too.
        """
        image = self.get(image_id)
        return ImageDownload(self._session, image, chunk_size=self._chunk_size, progress=progress, verify=verify,
                             verify_checksum=verify_checksum, resumes=resumes)

    def download_to(self, image_id: str, destination: Any, *, progress: Progress | None = None,
                    verify_checksum: bool = False, resumes: int = 5) -> Image:
        """Save the image to a path or binary file, verified; returns the image record."""
        with self.download(image_id, progress=progress, verify_checksum=verify_checksum,
                           resumes=resumes) as download:
            download.save(destination)
            return download.image


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")
