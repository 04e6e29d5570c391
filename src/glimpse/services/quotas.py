"""Limits: per image (properties, tags, members, locations) and per project (images, bytes, uploads)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from glimpse.db.transactions import TransactionGuard
from glimpse.db.quotas import RESOURCES as RESOURCES  # the quota resources, for the commands' choices
from glimpse.db.quotas import MiB, QuotaCheck, QuotaRepository
from glimpse.domain.images import RESERVED_PREFIX
from glimpse.domain.storable import INT64_MAX, MAX_TEXT_BYTES
from glimpse.errors import InvalidRequest, QuotaExceeded

_SIZED = ("image_size_total", "image_stage_total")
#: Largest quota limit: a number of MiB whose bytes still fit a signed 64-bit integer.
MAX_LIMIT = INT64_MAX // MiB
#: Largest property value in bytes: what a MySQL/MariaDB TEXT column holds.
MAX_VALUE_BYTES = MAX_TEXT_BYTES


def _size(properties: Mapping[str, object]) -> int:
    return sum(len(name.encode("utf-8", "surrogatepass")) + len(str(value).encode("utf-8", "surrogatepass"))
               for name, value in properties.items())


@dataclass(frozen=True)
class ImageLimits:
    """Negative limits mean unlimited, as in Glance."""

    properties: int = 128
    tags: int = 128
    members: int = 128
    locations: int = 10
    #: Total UTF-8 bytes of one image's property names and values.
    property_bytes: int = 256 * 1024

    def check_property_size(self, properties: Mapping[str, object],
                            previous: Mapping[str, object] | None = None) -> None:
        """Refuse properties that make an image record too large: one value beyond what every database's
        text column holds, or all of them beyond :attr:`property_bytes`. Only a change that adds bytes is
        refused, so an image over a lowered cap can still shrink."""
        previous = previous or {}
        for name, value in properties.items():
            size = len(str(value).encode("utf-8", "surrogatepass"))
            if size > MAX_VALUE_BYTES and previous.get(name) != value:
                raise QuotaExceeded(f"The value of property '{name[:80]}' has {size} bytes; "
                                    f"a property value may hold at most {MAX_VALUE_BYTES} bytes.")
        total = _size(properties)
        if total > self.property_bytes and total > _size(previous):
            raise QuotaExceeded(f"The image's properties would take {total} bytes; the limit is "
                                f"{self.property_bytes} bytes (setting image_properties_max_bytes).")

    def check_properties(self, properties: Mapping[str, object]) -> None:
        count = sum(1 for name in properties if not name.startswith(RESERVED_PREFIX))
        if 0 <= self.properties < count:
            raise QuotaExceeded(
                f"Maximum number of custom properties per image exceeded: {count} given, the limit is {self.properties}."
            )

    def check_tags(self, tags: Collection[str]) -> None:
        if 0 <= self.tags < len(tags):
            raise QuotaExceeded(f"Maximum number of tags per image exceeded: {len(tags)} given, the limit is {self.tags}.")

    def check_members(self, count: int) -> None:
        if 0 <= self.members < count:
            raise QuotaExceeded(f"Maximum number of members per image exceeded: the limit is {self.members}.")

    def check_locations(self, count: int) -> None:
        if 0 <= self.locations < count:
            raise QuotaExceeded(f"Maximum number of locations per image exceeded: the limit is {self.locations}.")


class ProjectQuotas:
    """Per-project limits: defaults from settings, overrides per project in the database.

    Counts are numbers of images; sizes are configured in MiB, as Keystone
    unified limits for Glance are. ``-1`` means unlimited. Images without an
    owner are not charged to anyone.
    """

    def __init__(self, repository: QuotaRepository, defaults: Mapping[str, int]) -> None:
        self._repository = repository
        self._defaults = {name: int(defaults.get(name, -1)) for name in RESOURCES}

    def limits(self, project_id: str) -> dict[str, int]:
        """Limits in force for a project (counts, and MiB for sizes)."""
        return {**self._defaults, **self._repository.overrides(project_id)}

    def set_limit(self, project_id: str, resource: str, limit: int) -> None:
        """Override one limit for one project (``-1`` = unlimited)."""
        _check_resource(resource)
        if limit < -1:
            raise InvalidRequest("A quota limit is -1 (unlimited) or a number of at least 0.")
        if limit > MAX_LIMIT:  # sizes are MiB: the bytes they stand for must fit a 64-bit column
            raise InvalidRequest(f"A quota limit is at most {MAX_LIMIT}, got {limit}.")
        self._repository.set_limit(project_id, resource, limit)

    def reset_limit(self, project_id: str, resource: str) -> bool:
        """Drop a project's override so the default applies again."""
        _check_resource(resource)
        return self._repository.delete_limit(project_id, resource)

    def overrides(self, project_id: str | None = None) -> list[tuple[str, str, int]]:
        return self._repository.all_overrides(project_id)

    def report(self, project_id: str) -> dict[str, dict[str, int]]:
        """Usage and limit of every resource, sizes in MiB (rounded down), as Glance reports them."""
        usage = self._repository.usage(project_id)
        limits = self.limits(project_id)
        report = {}
        for name in RESOURCES:
            used = getattr(usage, name)
            report[name] = {"limit": limits[name], "usage": used // MiB if name in _SIZED else used}
        return report

    def for_new_image(self, owner: str | None) -> TransactionGuard | None:
        return self._guard(owner, [("image_count_total", 1)])

    def for_upload_start(self, owner: str | None, declared_size: int | None) -> TransactionGuard | None:
        return self._guard(owner, [("image_count_uploading", 1), ("image_size_total", declared_size or 0)])

    def for_stored_data(self, owner: str | None, size: int) -> TransactionGuard | None:
        return self._guard(owner, [("image_size_total", size)])

    def for_stage_start(self, owner: str | None, declared_size: int | None) -> TransactionGuard | None:
        return self._guard(owner, [("image_count_uploading", 1), ("image_stage_total", declared_size or 0)])

    def for_staged_data(self, owner: str | None, size: int) -> TransactionGuard | None:
        return self._guard(owner, [("image_stage_total", size)])

    def remaining_bytes(self, owner: str | None) -> int | None:
        """Bytes the owner may still store, or ``None`` for no limit (a cap for an upload in flight)."""
        return self._remaining(owner, "image_size_total")

    def remaining_stage_bytes(self, owner: str | None) -> int | None:
        """Bytes the owner may still stage, or ``None`` for no limit."""
        return self._remaining(owner, "image_stage_total")

    def _remaining(self, owner: str | None, resource: str) -> int | None:
        if owner is None:
            return None
        limit = self.limits(owner)[resource]
        if limit < 0:
            return None
        used: int = getattr(self._repository.usage(owner), resource)
        return max(0, limit * MiB - used)

    def _guard(self, owner: str | None, wanted: list[tuple[str, int]]) -> TransactionGuard | None:
        if owner is None:
            return None
        limits = self.limits(owner)
        checks = [QuotaCheck(name, delta, limits[name] * (MiB if name in _SIZED else 1))
                  for name, delta in wanted if limits[name] >= 0]
        return self._repository.guard(owner, checks) if checks else None


def _check_resource(resource: str) -> None:
    if resource not in RESOURCES:
        raise InvalidRequest(f"Unknown quota resource {resource!r}; use one of {', '.join(RESOURCES)}.")
