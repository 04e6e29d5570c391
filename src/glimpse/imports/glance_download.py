"""The ``glance-download`` import method: an image's data and metadata from another Glance-compatible region.

The region's images endpoint is the one the ``glance_download_endpoints``
setting names (region -> URL), else the ``image`` service of the caller's
Keystone service catalog in that region, at the interface asked for
(``glance_service_interface``). Every request to the region carries the
caller's credentials: the Keystone token, or without authentication the
identity headers (``X-Project-Id``, ``X-User-Id``, ``X-Roles``).

The image's record (``GET /v2/images/{id}``) is read first: it must be
``active``; its ``disk_format``, ``container_format``, ``min_disk``,
``min_ram`` and custom properties (not ``os_glance_*``) are set on the local
image, as Glance does; its size and digests are what the download must match.
Then its data (``GET /v2/images/{id}/file``) is streamed into the local image
like any import. Both requests go through the URL rules of web-download
(:mod:`glimpse.imports.web_download`), the one place URLs are checked.
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
from glimpse.services.imports import COPIED_ATTRIBUTES, GLANCE_DOWNLOAD, ImportRequest

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
        #: remote records read for an import, by local image id, until the import is over
        self._records: dict[str, dict[str, Any]] = {}

    def _endpoint(self, request: ImportRequest) -> str:
        region = request.glance_region or ""
        endpoint = self._endpoints.get(region) or _from_catalog(request.caller.service_catalog, region,
                                                                request.glance_service_interface)
        if endpoint is None:
            known = sorted({*self._endpoints, *_catalog_regions(request.caller.service_catalog)})
            listed = ", ".join(known) or "none (setting glance_download_endpoints, or an image service in the " \
                                         "token's catalog)"
            raise InvalidRequest(f"Unknown glance_region {request.glance_region!r}; regions: {listed}.")
        return endpoint

    def check_request(self, request: ImportRequest) -> None:
        if request.uri is not None:
            raise InvalidRequest("glance-download takes 'glance_region' and 'glance_image_id', not a 'uri'.")
        self._rules.check(self._endpoint(request))

    def check_image(self, image: Image) -> None:
        return None

    def _base(self, request: ImportRequest) -> str:
        return f"{self._endpoint(request)}/v2/images/{quote(request.glance_image_id or '', safe='')}"

    def _remote(self, image: Image, request: ImportRequest) -> dict[str, Any]:
        record = self._records.get(image.id)
        if record is None:
            record = _record(self._base(request), self._rules, request.caller.headers())
            if record.get("status") != "active":
                raise Conflict(f"Image {request.glance_image_id} of region {request.glance_region} is "
                               f"'{record.get('status')}'; glance-download imports an 'active' image.")
            self._records[image.id] = record
        return record

    def metadata(self, image: Image, request: ImportRequest) -> Mapping[str, Any]:
        record = self._remote(image, request)
        copied: dict[str, Any] = {name: record[name] for name in COPIED_ATTRIBUTES if record.get(name) is not None}
        copied["properties"] = {k: v for k, v in record.items()
                                if k not in CORE_FIELDS and not k.startswith("os_glance") and v is not None}
        return copied

    @contextlib.contextmanager
    def _open(self, image: Image, request: ImportRequest) -> Iterator[Source]:
        record = self._remote(image, request)
        size = record.get("size") if isinstance(record.get("size"), int) else None
        with fetch(f"{self._base(request)}/file", self._rules, headers=request.caller.headers()) as (chunks, length):
            yield _checked(chunks, record, request), size if size is not None else length

    def open(self, image: Image, request: ImportRequest) -> AbstractContextManager[Source]:
        return self._open(image, request)

    def finished(self, image_id: str) -> None:
        self._records.pop(image_id, None)


#: Fields of an image record that are not custom properties (never copied as such).
CORE_FIELDS = frozenset({
    "id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo", "os_hash_value",
    "size", "virtual_size", "owner", "created_at", "updated_at", "tags", "self", "file", "schema", "locations",
    "direct_url", "min_disk", "min_ram", "disk_format", "container_format", "stores", "deleted", "deleted_at"})


def _from_catalog(catalog: tuple[dict[str, Any], ...], region: str, interface: str) -> str | None:
    """The URL of the ``image`` service in ``region`` at ``interface`` in a Keystone v3 catalog."""
    for service in catalog:
        if service.get("type") != "image":
            continue
        for endpoint in service.get("endpoints") or ():
            if region in (endpoint.get("region"), endpoint.get("region_id")) \
                    and endpoint.get("interface") == interface and isinstance(endpoint.get("url"), str):
                return str(endpoint["url"]).rstrip("/")
    return None


def _catalog_regions(catalog: tuple[dict[str, Any], ...]) -> set[str]:
    return {str(endpoint.get("region_id") or endpoint.get("region")) for service in catalog
            if service.get("type") == "image" for endpoint in service.get("endpoints") or ()
            if endpoint.get("region_id") or endpoint.get("region")}


def _record(url: str, rules: UrlRules, headers: Mapping[str, str]) -> dict[str, Any]:
    with fetch(url, rules, headers=headers) as (chunks, _length):
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
