"""The locations API (Images API 2.17): services register data already in a store as an image's data.

``POST /v2/images/{id}/locations`` names an object in one of the site's stores
by its URL; the data is read once through the ingest pipeline (size cap,
quota, MD5 and the configured multihash, the format gate) before the image
becomes active, so its ``size``, ``checksum``, ``os_hash_*`` and
``virtual_size`` are Glimpse's own findings, never the caller's word.
Locations are shown only to service users (``fetch_image_location``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from typing import Any

from glimpse.context import RequestContext
from glimpse.domain.images import Image, ImageLocation, ImageStatus, transition
from glimpse.errors import Conflict, ImageGone, ImageStatusConflict, InvalidRequest
from glimpse.services.access import ImageAccess
from glimpse.services.events import image_event
from glimpse.services.image_data import back_to_queued
from glimpse.services.ingest import IngestPipeline
from glimpse.services.quotas import ImageLimits, ProjectQuotas
from glimpse.services.stores import StoreSet

log = logging.getLogger(__name__)
#: Hash algorithms ``validation_data`` may name, with the length of their hex digests.
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[0-9a-f]+$")
MAX_URL_LENGTH = 255


@dataclasses.dataclass(frozen=True)
class NewLocation:
    """A checked ``POST …/locations`` body."""

    url: str
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    checksum: str | None = None


def parse_location(body: Mapping[str, Any]) -> NewLocation:
    """Validate a location body; :class:`InvalidRequest` saying what is wrong."""
    url = body.get("url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"A location needs a 'url': a string of 1 to {MAX_URL_LENGTH} characters.")
    unknown = set(body) - {"url", "validation_data", "metadata"}
    if unknown:
        raise InvalidRequest(f"Unknown field(s) in the location: {', '.join(sorted(unknown))}.")
    validation = body.get("validation_data") or {}
    if not isinstance(validation, dict) or set(validation) - {"os_hash_algo", "os_hash_value", "checksum"}:
        raise InvalidRequest("'validation_data' may hold only 'os_hash_algo', 'os_hash_value' and 'checksum'.")
    algo, value, checksum = (validation.get(k) for k in ("os_hash_algo", "os_hash_value", "checksum"))
    if (algo is None) != (value is None):
        raise InvalidRequest("'os_hash_algo' and 'os_hash_value' must be given together.")
    if algo is not None:
        if algo not in HASH_LENGTHS:
            raise InvalidRequest(f"'os_hash_algo' must be one of {', '.join(HASH_LENGTHS)}.")
        if not isinstance(value, str) or len(value) != HASH_LENGTHS[algo] or not _HEX.match(value):
            raise InvalidRequest(f"'os_hash_value' must be {HASH_LENGTHS[algo]} lowercase hex digits for {algo}.")
    if checksum is not None and (not isinstance(checksum, str) or len(checksum) != 32 or not _HEX.match(checksum)):
        raise InvalidRequest("'checksum' must be the 32 lowercase hex digits of an MD5 digest.")
    return NewLocation(url=url, os_hash_algo=algo, os_hash_value=value, checksum=checksum)


class LocationService:
    def __init__(self, access: ImageAccess, stores: StoreSet, ingest: IngestPipeline, quotas: ProjectQuotas,
                 limits: ImageLimits) -> None:
        self._access = access
        self._images = access.images
        self._stores = stores
        self._ingest = ingest
        self._quotas = quotas
        self._limits = limits

    def add(self, ctx: RequestContext, image_id: str, location: NewLocation) -> Image:
        """Make the object at ``location.url`` the data of a ``queued`` image, read and checked once.

        ``queued -> saving -> active``; on any failure the image goes back to
        ``queued`` and the store is left as it was. Raises :class:`ImageNotFound`,
        :class:`Forbidden` (policy ``add_image_location``), :class:`UnknownStore`
        (the URL is no store's), :class:`StoreObjectMissing`, :class:`Conflict`
        (another image holds that object), :class:`ImageStatusConflict`,
        :class:`ImageFormatsMissing`, :class:`InvalidRequest` (``validation_data``
        does not match), :class:`ImageFormatMismatch`, :class:`ImageTooLarge`,
        :class:`QuotaExceeded`, :class:`StoreUnavailable`.
        """
        image = self._access.find_for(ctx, image_id, "add_image_location", "add a location to")
        store_id, key = self._stores.locate(location.url)
        if location.os_hash_algo not in (None, "md5", self._ingest.hash_algorithm):
            raise InvalidRequest(f"This site hashes image data with {self._ingest.hash_algorithm}: give "
                                 f"'os_hash_algo' {self._ingest.hash_algorithm} (or only a 'checksum').")
        holder = self._images.location_holder(store_id, key)
        if holder is not None:
            raise Conflict(f"The object at {location.url} already holds the data of image {holder}.")
        saving = self._access.change(
            image.id, _start_saving_from_location,
            guard=lambda before, _after: self._quotas.for_upload_start(before.owner, None),
            events=lambda before, after: [image_event("image.update", ctx, after)])
        try:
            found = self._ingest.inspect_stored(store_id, self._stores.get(store_id), key, saving,
                                                quota_left=self._quotas.remaining_bytes(saving.owner))
            _check_claims(location, found.checksum, found.os_hash_value)
            placed = ImageLocation(store=store_id, key=key, url=found.stored.url, metadata={"store": store_id})

            def activated(current: Image) -> Image:
                if current.status is not ImageStatus.SAVING:
                    raise ImageGone(f"Image {current.id} was deleted while its location was being checked.")
                self._limits.check_locations(len(current.locations) + 1)
                return dataclasses.replace(
                    transition(current, ImageStatus.ACTIVE), size=found.size, virtual_size=found.virtual_size,
                    checksum=found.checksum, os_hash_algo=found.os_hash_algo, os_hash_value=found.os_hash_value,
                    locations=(*current.locations, placed))

            active = self._access.change(
                image.id, activated,
                guard=lambda before, _after: self._quotas.for_stored_data(before.owner, found.size),
                events=lambda before, after: [image_event("image.activate", ctx, after),
                                              image_event("image.update", ctx, after)])
        except BaseException:
            try:
                self._access.change(image.id, back_to_queued,
                                    events=lambda before, after: [image_event("image.update", ctx, after)])
            except Exception:  # deleted meanwhile: nothing to put back
                log.info("image %s could not go back to queued after a failed location", image.id, exc_info=True)
            raise
        return self._access.present(ctx, active)

    def list(self, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
        """The image's locations, ``[{"url", "metadata"}]``; :class:`Forbidden` unless ``fetch_image_location``."""
        image = self._access.find_for(ctx, image_id, "fetch_image_location", "see the locations of")
        return [{"url": loc.url, "metadata": dict(loc.metadata)} for loc in image.locations]


def _start_saving_from_location(image: Image) -> Image:
    if image.status is not ImageStatus.QUEUED:
        raise ImageStatusConflict(f"Image {image.id} is '{image.status}'; a location can only be added to a "
                                  "queued image.")
    missing = [name for name in ("disk_format", "container_format") if getattr(image, name) is None]
    if missing:
        raise InvalidRequest(f"Property(ies) {', '.join(missing)} must be set before a location is added.")
    return transition(image, ImageStatus.SAVING)


def _check_claims(location: NewLocation, checksum: str, os_hash_value: str) -> None:
    """The caller's ``validation_data`` must agree with what the data turned out to be."""
    claimed_md5 = location.checksum or (location.os_hash_value if location.os_hash_algo == "md5" else None)
    if claimed_md5 is not None and claimed_md5 != checksum:
        raise InvalidRequest(f"The data at {location.url} has MD5 {checksum}, not the {claimed_md5} given in "
                             "'validation_data'.")
    if location.os_hash_algo not in (None, "md5") and location.os_hash_value != os_hash_value:
        raise InvalidRequest(f"The data at {location.url} does not have the {location.os_hash_algo} digest given "
                             "in 'validation_data'.")
