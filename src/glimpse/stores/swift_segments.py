"""Finding the segments of Swift uploads that never got their manifest (a writer that crashed) and deleting them.

A large upload writes its segments as ``<key>/<upload>/<n>`` (``upload`` 32
hex digits, ``n`` 8 digits) and commits by writing the static large object
manifest at ``<key>``; an abort deletes them. A writer that dies in between
leaves them behind: :func:`purge_abandoned_segments` deletes every upload's
segments whose newest one is older than the age given, unless the manifest at
``<key>`` refers to them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from glimpse.stores.swift import SwiftStore

#: the metadata header naming the upload whose segments a manifest joins
UPLOAD_HEADER = "X-Object-Meta-Glimpse-Upload"
MiB = 1 << 20
SEGMENT = re.compile(r"^(?P<key>.+)/(?P<upload>[0-9a-f]{32})/(?P<number>[0-9]{8})$")


def purge_abandoned_segments(store: SwiftStore, *, older_than: float) -> list[str]:
    """Delete abandoned segments in every container of ``store``; the keys whose uploads they were."""
    cutoff = time.time() - older_than
    purged: list[str] = []
    for container in store.containers():
        uploads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entry in store.list_entries(container):
            match = SEGMENT.match(str(entry["name"]))
            if match:
                uploads.setdefault((match["key"], match["upload"]), []).append(entry)
        for (key, upload), segments in uploads.items():
            if max(_modified(entry) for entry in segments) >= cutoff:
                continue  # still being written, perhaps
            if _manifest_refers_to(store, container, key, upload):
                continue
            for entry in segments:
                store.delete_name(container, str(entry["name"]))
            purged.append(key)
    return purged


def _modified(entry: dict[str, Any]) -> float:
    """When a listed object was last written (Swift lists UTC without a zone); unknown counts as now."""
    try:
        when = dt.datetime.fromisoformat(str(entry["last_modified"]))
    except (KeyError, ValueError):
        return time.time()
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()


def _manifest_refers_to(store: SwiftStore, container: str, key: str, upload: str) -> bool:
    """Whether the object at ``key`` is a static large object that may use the segments of ``upload``."""
    path = f"{quote(container)}/{quote(key)}"
    head = store.request("HEAD", path)
    store.raise_for(head, "look the object up", missing_ok=True)
    if head.status_code == 404 or head.headers.get("X-Static-Large-Object", "").lower() != "true":
        return False
    if UPLOAD_HEADER in head.headers:
        return head.headers[UPLOAD_HEADER] == upload
    answer = store.request("GET", f"{path}?multipart-manifest=get", stream=True)
    try:
        store.raise_for(answer, "read the manifest", missing_ok=True)
        if answer.status_code == 404:
            return False
        if "json" not in answer.headers.get("Content-Type", "") or int(answer.headers.get("Content-Length", 0)) > MiB:
            return True  # the object's data, not its manifest: keep what may be its segments
        segments = json.loads(answer.read())
        prefix = f"/{container}/{key}/{upload}/"
        return not isinstance(segments, list) or any(
            str(segment.get("name", "")).startswith(prefix) for segment in segments if isinstance(segment, dict))
    except ValueError:
        return True
    finally:
        answer.close()
