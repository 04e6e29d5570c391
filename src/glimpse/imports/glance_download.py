"""The ``glance-download`` import method: an image's data from another Glance-compatible region.

The region's images endpoint comes from the ``glance_download_endpoints``
setting (region -> URL). The image's record (``GET /v2/images/{id}``) is read
first: it must be ``active``, and its size and digests are what the download
must match; then its data (``GET /v2/images/{id}/file``) is streamed into the
local image like any import. Both requests go through the URL rules of
web-download (:mod:`glimpse.imports.web_download`), the one place URLs are checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import quote

from glimpse.domain.images import Image, ImageStatus
from glimpse.errors import Conflict, InvalidRequest, StoreUnavailable
from glimpse.imports.web_download import UrlRules, fetch
from glimpse.services.imports import GLANCE_DOWNLOAD, ImportRequest

Source = tuple[Iterator[bytes], int | None]
#: The most a remote image record may take, in bytes.
MAX_RECORD = 1024 * 1024


class GlanceDownload:
    """Import an image of another region, by its id there."""

    name = GLANCE_DOWNLOAD
    source_status = ImageStatus.QUEUED

    def __init__(self, endpoints: Mapping[str, str], rules: UrlRules) -> None:
        self._endpoints = {region: url.rstrip("/") for region, url in endpoints.items()}
        self._rules = rules

    def _endpoint(self, request: ImportRequest) -> str:
        endpoint = self._endpoints.get(request.glance_region or "")
        if endpoint is None:
            known = ", ".join(sorted(self._endpoints)) or "none configured (setting glance_download_endpoints)"
            raise InvalidRequest(f"Unknown glance_region {request.glance_region!r}; regions: {known}.")
        return endpoint

    def check_request(self, request: ImportRequest) -> None:
        if request.uri is not None:
            raise InvalidRequest("glance-download takes 'glance_region' and 'glance_image_id', not a 'uri'.")
        self._rules.check(self._endpoint(request))

    def check_image(self, image: Image) -> None:
        return None

    @contextlib.contextmanager
    def _open(self, request: ImportRequest) -> Iterator[Source]:
        base = f"{self._endpoint(request)}/v2/images/{quote(request.glance_image_id or '', safe='')}"
        record = _record(base, self._rules)
        if record.get("status") != "active":
            raise Conflict(f"Image {request.glance_image_id} of region {request.glance_region} is "
                           f"'{record.get('status')}'; glance-download imports an 'active' image.")
        size = record.get("size") if isinstance(record.get("size"), int) else None
        with fetch(f"{base}/file", self._rules) as (chunks, length):
            yield _checked(chunks, record, request), size if size is not None else length

    def open(self, image: Image, request: ImportRequest) -> AbstractContextManager[Source]:
        return self._open(request)

    def finished(self, image_id: str) -> None:
        return None


def _record(url: str, rules: UrlRules) -> dict[str, Any]:
    with fetch(url, rules) as (chunks, _length):
        body = bytearray()
        for chunk in chunks:
            body += chunk
            if len(body) > MAX_RECORD:
                raise StoreUnavailable("The remote image record is larger than 1 MiB; is the endpoint an images API?")
    try:
        record = json.loads(bytes(body))
    except ValueError:
        raise StoreUnavailable("The remote region's answer for the image is not JSON; is the endpoint an "
                               "images API (…/image or …:9292)?") from None
    if not isinstance(record, dict):
        raise StoreUnavailable("The remote region's answer for the image is not an image record.")
    return record


def _checked(chunks: Iterator[bytes], record: Mapping[str, Any], request: ImportRequest) -> Iterator[bytes]:
    """The remote data, failing at its end unless it has the digest the remote record gives."""
    algorithm, expected = record.get("os_hash_algo"), record.get("os_hash_value")
    digest = hashlib.new(algorithm) if isinstance(algorithm, str) and algorithm in hashlib.algorithms_available \
        and isinstance(expected, str) else None
    for chunk in chunks:
        if digest is not None:
            digest.update(chunk)
        yield chunk
    if digest is not None and digest.hexdigest() != expected:
        raise StoreUnavailable(f"The data of image {request.glance_image_id} from region {request.glance_region} "
                               f"does not match its {algorithm} digest; nothing was imported.")
