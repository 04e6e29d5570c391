"""HTTP caching: entity tags, validators and conditional requests (RFC 9110 section 13, RFC 9111).

* Image data is immutable once the image is active: its strong ``ETag`` is the
  content hash, it carries ``Last-Modified`` and a ``Cache-Control`` that lets
  caches keep it, and ``If-None-Match``/``If-Modified-Since`` (304) and
  ``If-Range`` are honoured.
* An image's metadata ``ETag`` names its ``revision``, which every change
  increments; ``If-Match`` on ``PATCH``/``DELETE`` turns into the revisions the
  service must find (compare-and-swap), so a lost update is a 412.
* Lists and schemas are tagged with a hash of their body.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response

from glimpse.domain.images import Image, Visibility

#: How long shared caches may serve a public image's data without asking again (seconds).
PUBLIC_DATA_MAX_AGE = 86400
#: How long clients may use a schema without asking again (seconds).
SCHEMA_MAX_AGE = 3600
_REVISION_PREFIX = '"r'


# -- entity tags


def image_etag(image: Image) -> str:
    """The metadata ETag: changes with every change of the image."""
    return f'{_REVISION_PREFIX}{image.revision}"'


def data_etag(image: Image) -> str | None:
    """The strong ETag of the image's bytes (their hash), or ``None`` without data."""
    digest = image.os_hash_value or image.checksum
    return f'"{digest}"' if digest else None


def body_etag(body: bytes) -> str:
    """A strong ETag for a rendered body."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _tags(raw: str) -> list[str]:
    """The entity tags of an ``If-Match``/``If-None-Match`` value (``*`` stays ``*``)."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _weak_equal(a: str, b: str) -> bool:
    return a.removeprefix("W/") == b.removeprefix("W/")


def none_match(headers: Headers, etag: str | None) -> bool:
    """True if ``If-None-Match`` names the current representation (so a GET gets 304)."""
    raw = headers.get("if-none-match")
    if raw is None or etag is None:
        return False
    return any(tag == "*" or _weak_equal(tag, etag) for tag in _tags(raw))


def expected_revisions(headers: Headers) -> frozenset[int] | None:
    """The image revisions ``If-Match`` accepts; ``None`` when any will do (absent or ``*``).

    An ``If-Match`` naming no revision of ours accepts none: the change gets 412.
    """
    raw = headers.get("if-match")
    if raw is None:
        return None
    tags = _tags(raw)
    if "*" in tags:
        return None
    revisions = set()
    for tag in tags:
        if tag.startswith(_REVISION_PREFIX) and tag.endswith('"') and tag[2:-1].isdigit():
            revisions.add(int(tag[2:-1]))
    return frozenset(revisions)


# -- metadata responses


def encode_json(body: Any) -> bytes:
    """The compact UTF-8 JSON every metadata response body is."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def json_response(body: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None,
                  etag: str | None = None, request_headers: Headers | None = None,
                  cache_control: str = "no-cache") -> Response:
    """A JSON response tagged with ``etag`` (a hash of the body if not given), or 304 if the client has it."""
    return encoded_json_response(encode_json(body), status_code=status_code, headers=headers, etag=etag,
                                 request_headers=request_headers, cache_control=cache_control)


def encoded_json_response(content: bytes, *, status_code: int = 200, headers: Mapping[str, str] | None = None,
                          etag: str | None = None, request_headers: Headers | None = None,
                          cache_control: str = "no-cache") -> Response:
    """:func:`json_response` for a body already encoded with :func:`encode_json`."""
    tag = etag or body_etag(content)
    fields = {**(headers or {}), "ETag": tag, "Cache-Control": cache_control}
    if status_code == 200 and request_headers is not None and none_match(request_headers, tag):
        return Response(status_code=304, headers=fields)
    return Response(content, status_code=status_code, headers=fields, media_type="application/json")


# -- image data


def data_headers(image: Image) -> dict[str, str]:
    """Validators and cache policy of an image's data (it never changes once stored)."""
    headers = {
        "Accept-Ranges": "bytes",
        "Last-Modified": email.utils.format_datetime(data_modified(image).replace(tzinfo=dt.UTC), usegmt=True),
    }
    etag = data_etag(image)
    if etag:
        headers["ETag"] = etag
    audience = "public" if image.visibility in (Visibility.PUBLIC, Visibility.COMMUNITY) else "private"
    headers["Cache-Control"] = f"{audience}, max-age={PUBLIC_DATA_MAX_AGE}, immutable"
    return headers


def data_modified(image: Image) -> dt.datetime:
    """When the image's data last changed: when it became active (metadata changes do not count)."""
    return image.activated_at or image.updated_at


def data_not_modified(headers: Headers, image: Image) -> bool:
    """True if the client's copy is current (``If-None-Match``, else ``If-Modified-Since``)."""
    if headers.get("if-none-match") is not None:
        return none_match(headers, data_etag(image))
    since = _http_date(headers.get("if-modified-since"))
    return since is not None and data_modified(image).replace(microsecond=0) <= since


def range_applies(headers: Headers, image: Image) -> bool:
    """Whether a ``Range`` may be served: no ``If-Range``, or it names the current data exactly."""
    raw = headers.get("if-range")
    if raw is None:
        return True
    raw = raw.strip()
    if raw.startswith('"') or raw.startswith("W/"):
        etag = data_etag(image)
        return etag is not None and not raw.startswith("W/") and raw == etag  # strong comparison
    moment = _http_date(raw)
    return moment is not None and moment == data_modified(image).replace(microsecond=0)


def check_if_match_data(headers: Headers, image: Image) -> None:
    """412 if a download's ``If-Match`` names other data than the image has."""
    raw = headers.get("if-match")
    if raw is None:
        return
    etag = data_etag(image)
    tags = _tags(raw)
    if "*" in tags and etag is not None:
        return
    if etag is None or not any(tag == etag for tag in tags):
        raise HTTPException(412, "The image data does not match the entity tag given in If-Match.")


def _http_date(raw: str | None) -> dt.datetime | None:
    """A naive UTC datetime from an HTTP date, or ``None`` if absent or unreadable."""
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed
