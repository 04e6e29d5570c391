"""What each ``glimpse cache`` subcommand does, given a ``Client`` and the parsed arguments."""

from __future__ import annotations

import argparse
import sys
import time

from glimpseclient._client import Client
from glimpseclient._output import records

CACHED_COLUMNS = [("image_id", "ID"), ("state", "State"), ("size", "Size"), ("hits", "Hits"),
                  ("last_accessed", "Last Accessed (UTC)")]


def _when(seconds: float | None) -> str:
    if not seconds:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def cache_list(client: Client, args: argparse.Namespace) -> int:
    body = client.cache.list()
    rows = [{"image_id": e["image_id"], "state": "cached", "size": e.get("size"), "hits": e.get("hits"),
             "last_accessed": _when(e.get("last_accessed"))} for e in body.get("cached_images", [])]
    rows += [{"image_id": image_id, "state": "queued", "size": None, "hits": None, "last_accessed": ""}
             for image_id in body.get("queued_images", [])]
    records(rows, CACHED_COLUMNS, args.format, sys.stdout)
    return 0


def cache_queue(client: Client, args: argparse.Namespace) -> int:
    for image_id in args.images:
        client.cache.queue(image_id)
    return 0


def cache_delete(client: Client, args: argparse.Namespace) -> int:
    for image_id in args.images:
        client.cache.delete(image_id)
    return 0


def cache_clear(client: Client, args: argparse.Namespace) -> int:
    client.cache.clear(args.target)
    return 0
