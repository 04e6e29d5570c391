"""Per-image limits: how many custom properties, tags and members an image may carry."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from glimpse.domain.images import RESERVED_PREFIX
from glimpse.errors import QuotaExceeded


@dataclass(frozen=True)
class ImageLimits:
    """Negative limits mean unlimited, as in Glance."""

    properties: int = 128
    tags: int = 128
    members: int = 128

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
