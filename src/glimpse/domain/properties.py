"""One image property as a record of its own: value, type, setter, visibility, version.

``GET|PUT|DELETE /v2/images/{id}/properties/{name}`` shows and changes these
records; a :class:`Precondition` (from ``If-Match``/``If-None-Match``) makes a
change conditional on the version the caller last read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from glimpse.domain.images import Image, PropertyVisibility


@dataclass(frozen=True)
class PropertyRecord:
    name: str
    #: the stored (canonical) string
    stored: str | None
    #: the value as its definition's type (the stored string for undefined properties)
    value: Any
    #: the definition's type; ``string`` for properties no namespace defines
    type: str
    #: the namespace defining it, if any
    namespace: str | None
    project_id: str | None
    visibility: PropertyVisibility
    image_id: str
    image_revision: int

    @property
    def version(self) -> str:
        return property_version(self.image_id, self.name, self.stored, self.project_id, self.visibility)


def property_version(image_id: str, name: str, stored: str | None, project_id: str | None,
                     visibility: PropertyVisibility) -> str:
    """A short digest that changes whenever the property's value, setter or visibility does."""
    material = json.dumps([image_id, name, stored, project_id, visibility.value], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def current_version(image: Image, name: str) -> str | None:
    """The version of property ``name`` on ``image``, or ``None`` if the image lacks it."""
    if name not in image.properties:
        return None
    info = image.info(name)
    return property_version(image.id, name, image.properties[name], info.project_id, info.visibility)


@dataclass(frozen=True)
class Precondition:
    """What must hold before a conditional change applies.

    ``revisions``/``versions`` come from ``If-Match`` (the image's revision or
    the property's version): the change applies if any of them is current.
    ``exists`` is ``If-Match: *`` and ``absent`` is ``If-None-Match: *``.
    """

    revisions: frozenset[int] = frozenset()
    versions: frozenset[str] = frozenset()
    exists: bool = False
    absent: bool = False
    #: If-Match was given with tags (so one of them must match)
    match_required: bool = False

    def holds(self, image: Image, name: str) -> bool:
        version = current_version(image, name)
        if self.absent and version is not None:
            return False
        if self.exists and version is None:
            return False
        if self.match_required:
            return image.revision in self.revisions or (version is not None and version in self.versions)
        return True
