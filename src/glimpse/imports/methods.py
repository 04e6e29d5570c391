"""The import methods the ``image-import`` extension offers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from glimpse.domain.images import Image, ImageStatus
from glimpse.errors import Conflict, ImageGone, InvalidRequest
from glimpse.imports.web_download import UrlRules, fetch
from glimpse.services.staged_imports import Staged
from glimpse.services.imports import COPY_IMAGE, GLANCE_DIRECT, WEB_DOWNLOAD, ImportRequest
from glimpse.stores.base import Store, StoreObjectNotFound

Source = tuple[Iterator[bytes], int | None]


class StagingRecords(Protocol):
    """Where an image's staged data is recorded (``services.imports``)."""

    def staged_record(self, image_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(key, meta)`` of the image's staged data, if any."""
        ...

    def release_staged(self, image_id: str) -> None:
        """Forget the staging record of an image whose staged data is gone."""
        ...


class GlanceDirect:
    """Import what the client staged with ``PUT /v2/images/{id}/stage``."""

    name = GLANCE_DIRECT
    source_status = ImageStatus.UPLOADING

    def __init__(self, staging: Store, images: StagingRecords) -> None:
        self._staging = staging
        self._images = images

    def check_request(self, request: ImportRequest) -> None:
        if request.uri is not None:
            raise InvalidRequest("glance-direct imports staged data; it takes no 'uri'.")

    def check_image(self, image: Image) -> None:
        if image.size is None:
            raise Conflict(f"The data of image {image.id} is still being staged.")

    @contextlib.contextmanager
    def _open(self, image: Image) -> Iterator[Source]:
        try:
            chunks = self._staging.open(image.id)
        except StoreObjectNotFound:
            raise ImageGone(f"The staged data of image {image.id} is gone.") from None
        try:
            yield chunks, image.size
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def open(self, image: Image, request: ImportRequest) -> AbstractContextManager[Source]:
        return self._open(image)

    def staged(self, image: Image) -> Staged | None:
        record = self._images.staged_record(image.id)
        if record is None:
            return None
        staged = Staged.from_record(self._staging, record[0], record[1])
        return staged if staged is not None and staged.size == image.size else None

    def finished(self, image_id: str) -> None:
        self._staging.delete(image_id)
        self._images.release_staged(image_id)


class WebDownload:
    """Import by fetching a URL the client names (within the operator's :class:`UrlRules`)."""

    name = WEB_DOWNLOAD
    source_status = ImageStatus.QUEUED

    def __init__(self, rules: UrlRules) -> None:
        self._rules = rules

    def check_request(self, request: ImportRequest) -> None:
        if not request.uri:
            raise InvalidRequest("The web-download method needs the 'uri' to import from.")
        self._rules.check(request.uri)

    def check_image(self, image: Image) -> None:
        return None

    def open(self, image: Image, request: ImportRequest) -> AbstractContextManager[Source]:
        assert request.uri is not None
        return fetch(request.uri, self._rules)

    def finished(self, image_id: str) -> None:
        return None


class CopyImage:
    """Copy an active image's data into more stores; the import service runs the copies (it owns the stores)."""

    name = COPY_IMAGE
    source_status = ImageStatus.ACTIVE

    def check_request(self, request: ImportRequest) -> None:
        if request.uri is not None:
            raise InvalidRequest("copy-image copies the image's own data; it takes no 'uri'.")

    def check_image(self, image: Image) -> None:
        if image.status is not ImageStatus.ACTIVE:
            raise Conflict(f"Image {image.id} is '{image.status}'; copy-image needs an 'active' image.")

    def open(self, image: Image, request: ImportRequest) -> AbstractContextManager[Source]:
        raise InvalidRequest("copy-image reads the image's stored data, not a source of its own.")

    def finished(self, image_id: str) -> None:
        return None
