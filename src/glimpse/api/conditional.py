"""Entity tags and conditional requests for the property subresource (RFC 9110 section 13).

An image's ``ETag`` names its revision (``"r7"``), which every change of the
image increments; a property's names a digest of its value, setter and
visibility (``"p…"``). ``If-Match`` with either makes a change apply only if
that version is still current (else 412); ``If-Match: *`` requires the
property to exist and ``If-None-Match: *`` requires it not to.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from glimpse.api.caching import image_etag
from glimpse.domain.properties import Precondition, PropertyRecord

__all__ = ["image_etag", "property_etag", "precondition"]

_IMAGE_PREFIX = '"r'  # the revision tags of caching.image_etag
_PROPERTY_PREFIX = '"p'


def property_etag(record: PropertyRecord) -> str:
    return f'{_PROPERTY_PREFIX}{record.version}"'


def _tags(raw: str) -> list[str]:
    return [part.strip().removeprefix("W/") for part in raw.split(",") if part.strip()]


def precondition(headers: Headers) -> Precondition | None:
    """The precondition ``If-Match``/``If-None-Match`` state, or ``None`` without them.

    A tag that is neither an image nor a property tag of ours matches nothing.
    """
    match, none_match = headers.get("if-match"), headers.get("if-none-match")
    if match is None and none_match is None:
        return None
    revisions: set[int] = set()
    versions: set[str] = set()
    exists = False
    tags = _tags(match) if match is not None else []
    for tag in tags:
        if tag == "*":
            exists = True
        elif tag.startswith(_IMAGE_PREFIX) and tag.endswith('"') and tag[2:-1].isdigit():
            revisions.add(int(tag[2:-1]))
        elif tag.startswith(_PROPERTY_PREFIX) and tag.endswith('"'):
            versions.add(tag[2:-1])
    absent = none_match is not None and "*" in _tags(none_match)
    return Precondition(frozenset(revisions), frozenset(versions), exists=exists, absent=absent,
                        match_required=match is not None and not exists)
