#!/usr/bin/env python3
"""Stage + glance-direct import of one image against a plain upload, through one ``glimpse-api``.

A plain upload is ``PUT /file`` (``queued -> saving -> active``). An import is
``PUT /stage`` (data into the staging store) then ``POST /import`` with
glance-direct and waiting for ``active`` (the data read back from staging,
hashed, inspected and written to the store): the data crosses the disk twice.
Default configuration (filesystem store and staging under the data dir, SQLite).
Prints one JSON document and a Markdown row per kind; seconds are wall time from
the first byte sent until the image is ``active``.

    python bench/import_bench.py --size-mib 1024 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import start_server  # noqa: E402

CHUNK = 4 << 20
MB = 1_000_000


def read_file(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while block := source.read(CHUNK):
            yield block


def wait_active(http: httpx.Client, image_id: str) -> None:
    while (status := http.get(f"/v2/images/{image_id}").json()["status"]) != "active":
        if status == "queued":
            raise RuntimeError(f"import of {image_id} failed: {http.get(f'/v2/images/{image_id}/tasks').json()}")
        time.sleep(0.02)


def one(http: httpx.Client, source: Path, kind: str) -> float:
    image = http.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(source.stat().st_size)}
    start = time.perf_counter()
    if kind == "upload":
        http.put(f"/v2/images/{image['id']}/file", content=read_file(source), headers=headers).raise_for_status()
    else:
        http.put(f"/v2/images/{image['id']}/stage", content=read_file(source), headers=headers).raise_for_status()
        http.post(f"/v2/images/{image['id']}/import",
                  json={"method": {"name": "glance-direct"}}).raise_for_status()
        wait_active(http, image["id"])
    elapsed = time.perf_counter() - start
    http.delete(f"/v2/images/{image['id']}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glimpse-import-bench-") as tmp:
        root = Path(tmp)
        source = root / "disk.raw"
        with open(source, "wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(1 << 20))
        server = start_server(root / "node")
        try:
            with httpx.Client(base_url=server.url, timeout=600, headers={"X-Project-Id": uuid.uuid4().hex}) as http:
                results = {kind: [one(http, source, kind) for _ in range(args.repeats)]
                           for kind in ("upload", "stage+glance-direct")}
        finally:
            server.stop()
    size = args.size_mib * (1 << 20)
    report = {kind: {"seconds": statistics.median(times), "MB/s": size / MB / statistics.median(times)}
              for kind, times in results.items()}
    print(json.dumps({"size_mib": args.size_mib, "repeats": args.repeats, "results": report}, indent=2))
    print("| path | seconds (median) | MB/s |\n|---|---|---|")
    for kind, row in report.items():
        print(f"| {kind} | {row['seconds']:.2f} | {row['MB/s']:.0f} |")


if __name__ == "__main__":
    main()
