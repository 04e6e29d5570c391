#!/usr/bin/env python3
"""The image cache's hit path against a plain local-file download, in one run.

Starts two ``glimpse-api`` nodes (2 workers each) on one SQLite database and one
filesystem store: ``plain`` without the cache, ``cache`` with the ``cache``
extension. Uploads one image of random bytes, then measures on the ``cache``
node the first download (a miss, served while it fills the cache), and, interleaved
``--repeats`` times, a download from the ``plain`` node (the filesystem store's
file, by sendfile) and a hit on the ``cache`` node (the cache file, by sendfile);
then the latency of ``--small-requests`` downloads of a 64 KiB image on one
keep-alive connection per node, interleaved (what a hit's index lookup adds).
Every mode is checked once by SHA-256 outside the timings. MB/s is 10^6 bytes per
second; medians are reported. Prints one JSON document and a Markdown table.

    python bench/cache_hit.py --size-mib 512 --repeats 5
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import start_server  # noqa: E402

MB = 1_000_000
BUFFER = 4 << 20
ADMIN = {"X-Project-Id": "bench", "X-Roles": "admin,member,reader"}


def download(url: str, image_id: str, *, digest: bool = False) -> tuple[float, int, str, str]:
    """Seconds, bytes, X-Glimpse-Cache, and the SHA-256 when ``digest``; read into one reused buffer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    sha = hashlib.sha256() if digest else None
    start = time.perf_counter()
    conn.request("GET", f"/v2/images/{image_id}/file", headers=ADMIN)
    response = conn.getresponse()
    assert response.status == 200, response.status
    received = 0
    while n := response.readinto(buffer):
        received += n
        if sha is not None:
            sha.update(view[:n])
    elapsed = time.perf_counter() - start
    header = response.getheader("X-Glimpse-Cache") or "-"
    conn.close()
    return elapsed, received, header, sha.hexdigest() if sha is not None else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small-requests", type=int, default=300)
    args = parser.parse_args()
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory(prefix="glimpse-cache-bench-") as scratch:
        root = Path(scratch)
        source = root / "image.raw"
        expected = hashlib.sha256()
        with open(source, "wb") as out:
            for _ in range(args.size_mib):
                block = os.urandom(1 << 20)
                expected.update(block)
                out.write(block)
        stores = json.dumps({"file": {"driver": "filesystem", "path": str(root / "store")}})
        database = f"sqlite:///{root / 'glimpse.db'}"
        env = {"GLIMPSE_STORES": stores, "GLIMPSE_IMAGE_CACHE_MAX_SIZE": str(4 * size)}
        plain = start_server(root / "plain", database_url=database, workers=2,
                             env={**env, "GLIMPSE_EXTENSIONS": "[]"})
        cache = start_server(root / "cache", database_url=database, workers=2,
                             env={**env, "GLIMPSE_EXTENSIONS": '["cache"]'})
        try:
            results = run(plain.url, cache.url, source, size, args.repeats, expected.hexdigest())
            results.update(small(plain.url, cache.url, args.small_requests))
        finally:
            plain.stop()
            cache.stop()
    results["size_mib"] = args.size_mib
    print(json.dumps(results, indent=2))
    print("\n| download | MB/s (median) | runs |\n|---|---|---|", file=sys.stderr)
    for name in ("plain local file", "cache hit", "cache miss (first download, fills the cache)"):
        row = results[name]
        print(f"| {name} | {row['median']:.0f} | {', '.join(f'{r:.0f}' for r in row['runs'])} |", file=sys.stderr)
    print(f"\nhit / plain: {results['hit_over_plain']:.2f}", file=sys.stderr)
    print("\n| 64 KiB download | p50 ms | p90 ms |\n|---|---|---|", file=sys.stderr)
    for name in ("small plain", "small hit"):
        row = results[name]
        print(f"| {name} | {row['p50_ms']:.2f} | {row['p90_ms']:.2f} |", file=sys.stderr)


def run(plain_url: str, cache_url: str, source: Path, size: int, repeats: int, sha256: str) -> dict[str, Any]:
    client = httpx.Client(base_url=plain_url, headers=ADMIN, timeout=300)
    image = client.post("/v2/images", json={"name": "cache-bench", "disk_format": "raw",
                                            "container_format": "bare", "visibility": "public",
                                            "id": str(uuid.uuid4())}).json()
    with open(source, "rb") as data:
        uploaded = client.put(f"/v2/images/{image['id']}/file", content=data,
                              headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
    assert uploaded.status_code == 204, uploaded.text
    elapsed, received, header, digest = download(cache_url, image["id"], digest=True)
    assert (received, header, digest) == (size, "miss", sha256), (received, header)
    miss = size / elapsed / MB
    cache_admin = httpx.Client(base_url=cache_url, headers=ADMIN, timeout=30)
    deadline = time.monotonic() + 120
    while image["id"] not in [e["image_id"] for e in cache_admin.get("/v2/cache").json()["cached_images"]]:
        assert time.monotonic() < deadline, "the image was not cached"
        time.sleep(0.1)
    for url, kind in ((plain_url, "-"), (cache_url, "hit")):
        _, received, header, digest = download(url, image["id"], digest=True)
        assert (received, header, digest) == (size, kind, sha256), (url, received, header)
    plain_runs, hit_runs = [], []
    for _ in range(repeats):
        elapsed, received, header, _ = download(plain_url, image["id"])
        assert received == size and header == "-"
        plain_runs.append(size / elapsed / MB)
        elapsed, received, header, _ = download(cache_url, image["id"])
        assert received == size and header == "hit"
        hit_runs.append(size / elapsed / MB)
    client.close()
    cache_admin.close()
    return {
        "plain local file": {"median": statistics.median(plain_runs), "runs": plain_runs},
        "cache hit": {"median": statistics.median(hit_runs), "runs": hit_runs},
        "cache miss (first download, fills the cache)": {"median": miss, "runs": [miss]},
        "hit_over_plain": statistics.median(hit_runs) / statistics.median(plain_runs),
    }


def small(plain_url: str, cache_url: str, requests: int) -> dict[str, Any]:
    """Latency of downloading a 64 KiB image, plain against hit, interleaved on keep-alive connections."""
    data = os.urandom(64 << 10)
    client = httpx.Client(base_url=plain_url, headers=ADMIN, timeout=60)
    image = client.post("/v2/images", json={"name": "small", "disk_format": "raw", "container_format": "bare",
                                            "visibility": "public"}).json()
    assert client.put(f"/v2/images/{image['id']}/file", content=data,
                      headers={"Content-Type": "application/octet-stream"}).status_code == 204
    nodes = {"small plain": httpx.Client(base_url=plain_url, headers=ADMIN, timeout=60),
             "small hit": httpx.Client(base_url=cache_url, headers=ADMIN, timeout=60)}
    assert nodes["small hit"].get(f"/v2/images/{image['id']}/file").headers["x-glimpse-cache"] == "miss"
    deadline = time.monotonic() + 30
    while nodes["small hit"].get(f"/v2/images/{image['id']}/file").headers["x-glimpse-cache"] != "hit":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    times: dict[str, list[float]] = {name: [] for name in nodes}
    for _ in range(requests):
        for name, node in nodes.items():
            start = time.perf_counter()
            response = node.get(f"/v2/images/{image['id']}/file")
            times[name].append(time.perf_counter() - start)
            assert response.content == data
    for node in nodes.values():
        node.close()
    client.close()
    return {name: {"p50_ms": statistics.median(t) * 1000,
                   "p90_ms": statistics.quantiles(t, n=10)[-1] * 1000} for name, t in times.items()}


if __name__ == "__main__":
    main()
