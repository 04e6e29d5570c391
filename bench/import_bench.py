#!/usr/bin/env python3
"""Stage + glance-direct import of one image against a plain upload, through one ``glimpse-api``.

A plain upload is ``PUT /file`` (``queued -> saving -> active``). An import is
``PUT /stage`` (data into the staging store, hashed there) then ``POST /import``
with glance-direct and waiting for ``active``: the staged file is renamed into
the store and format-checked in place (``services/staged_imports.py``).
``--copy`` adds copy-image from the filesystem store into Ceph S3 against
boto3's own ``upload_file`` of the same file (a throw-away Ceph cluster).
Default configuration (filesystem store and staging under the data dir, SQLite).
Prints one JSON document and a Markdown row per kind; seconds are wall time from
the first byte sent until the image is ``active``.

    python bench/import_bench.py --size-mib 1024 --repeats 3 --copy
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


def copy_rows(source: Path, root: Path, repeats: int) -> dict[str, list[float]]:
    """copy-image from the filesystem store into Ceph S3 (radosgw) against boto3's own ``upload_file`` of the
    same file into the same radosgw, in one run (a throw-away cluster of ``tests/support/ceph.py``)."""
    import boto3

    from tests.support.ceph import CLUSTER_PREFIX, start_cluster, stop_cluster

    cluster = start_cluster(Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX)))
    try:
        env = cluster.env
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        client = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], aws_access_key_id=env["S3_ACCESS_KEY"],
                              aws_secret_access_key=env["S3_SECRET_KEY"], region_name="us-east-1")
        client.create_bucket(Bucket=bucket)
        stores = {"file": {"driver": "filesystem", "path": str(root / "copy-node" / "images")},
                  "s3": {"driver": "s3", "endpoint": env["S3_ENDPOINT"], "access_key": env["S3_ACCESS_KEY"],
                         "secret_key": env["S3_SECRET_KEY"], "bucket": bucket, "addressing_style": "path"}}
        server = start_server(root / "copy-node", env={"GLIMPSE_STORES": json.dumps(stores)})
        results: dict[str, list[float]] = {"copy-image file -> s3": [], "boto3 upload_file -> s3": []}
        try:
            with httpx.Client(base_url=server.url, timeout=600, headers={"X-Project-Id": uuid.uuid4().hex}) as http:
                for _ in range(repeats):
                    image = http.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
                    http.put(f"/v2/images/{image['id']}/file", content=read_file(source),
                             headers={"Content-Type": "application/octet-stream",
                                      "X-Image-Meta-Store": "file"}).raise_for_status()
                    start = time.perf_counter()
                    http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "copy-image"},
                                                                       "stores": ["s3"]}).raise_for_status()
                    while (shown := http.get(f"/v2/images/{image['id']}").json()).get("os_glance_import_task"):
                        time.sleep(0.02)
                    results["copy-image file -> s3"].append(time.perf_counter() - start)
                    if shown["stores"] != "file,s3":
                        tasks = http.get(f"/v2/images/{image['id']}/tasks").json()
                        raise RuntimeError(f"copy-image failed: {tasks}")
                    http.delete(f"/v2/images/{image['id']}")
                    start = time.perf_counter()
                    client.upload_file(str(source), bucket, f"raw-{uuid.uuid4().hex}")
                    results["boto3 upload_file -> s3"].append(time.perf_counter() - start)
        finally:
            server.stop()
        return results
    finally:
        stop_cluster(cluster)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--copy", action="store_true", help="also copy-image file -> Ceph S3 vs boto3 (starts Ceph)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glimpse-import-bench-") as tmp:
        root = Path(tmp)
        source = root / "disk.raw"
        with open(source, "wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(1 << 20))
        server = start_server(root / "node")
        results: dict[str, list[float]] = {"upload": [], "stage+glance-direct": []}
        try:
            with httpx.Client(base_url=server.url, timeout=600, headers={"X-Project-Id": uuid.uuid4().hex}) as http:
                for _ in range(args.repeats):  # alternated, so that both see the same machine
                    for kind in results:
                        results[kind].append(one(http, source, kind))
        finally:
            server.stop()
        if args.copy:
            results.update(copy_rows(source, root, args.repeats))
    size = args.size_mib * (1 << 20)
    report = {kind: {"seconds": statistics.median(times), "MB/s": size / MB / statistics.median(times)}
              for kind, times in results.items()}
    print(json.dumps({"size_mib": args.size_mib, "repeats": args.repeats, "results": report}, indent=2))
    print("| path | seconds (median) | MB/s |\n|---|---|---|")
    for kind, row in report.items():
        print(f"| {kind} | {row['seconds']:.2f} | {row['MB/s']:.0f} |")


if __name__ == "__main__":
    main()
