#!/usr/bin/env python3
"""Benchmark any OpenStack Images API v2 endpoint; print one JSON document.

Measures, against ``--endpoint`` (Glimpse, Glance, anything speaking Images v2):

* upload MB/s of a ``--size`` image (default 1 GiB, random bytes), sent with sendfile;
* download MB/s of it, 1 stream and ``--streams`` concurrent ones, every block
  compared with the source (``--verify sample``: a window of each block;
  ``full``: every byte), after a first download of the new image checked by
  sampling and reported on its own (it may be read from the disk, not the page cache), and a
  check of the server's data by MD5;
* metadata operations: create, show (concurrency 1 and 16), list with paging,
  JSON-Patch update, and ``--writers`` concurrent writers (create + patch), as
  ops/s with p50/p99 latency and the number of failed requests;

and, in the same run, the machine's own limits for the same work:

* MD5 and SHA-512 over the same bytes, in parallel threads (and in one thread);
* the same client downloading the same file from ``--baseline-url`` (a plain
  sendfile file server such as nginx), 1 and ``--streams`` streams;

so that ``ratios`` can put the endpoint's numbers against those limits.
``--watch-pid`` samples the resident memory (RSS and PSS, MiB) of a server's
process tree before, during and after the transfers (once before and once after
the metadata scenarios, not during them: reading a process's memory map stalls it).

Example::

    python bench/images_bench.py --endpoint http://127.0.0.1:9292 \\
        --baseline-url http://127.0.0.1:8088/image.bin --baseline-file /tmp/image.bin
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import mmap
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lean_http import AsyncConnection, BlockingConnection, Endpoint  # noqa: E402
from process_memory import MemoryWatch  # noqa: E402

MB = 1_000_000
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
SAMPLE = 64 << 10


def parse_size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
    lowered = text.strip().lower()
    for suffix in sorted(units, key=len, reverse=True):
        if lowered.endswith(suffix):
            return int(float(lowered[: -len(suffix)]) * units[suffix])
    return int(lowered)


# -- source data and the hashing limit


def make_source(size: int, directory: str) -> Path:
    path = Path(directory) / f"bench-{size}.bin"
    if path.exists() and path.stat().st_size == size:
        return path
    rng = random.Random(7)
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 8 << 20)
            out.write(rng.randbytes(n))
            left -= n
    return path


def hashing_limit(view: memoryview, block: int = 1 << 20) -> dict[str, Any]:
    """MD5 and SHA-512 over ``view``: in two parallel threads, and one after the other in one thread."""
    digests: dict[str, str] = {}

    def run(name: str) -> None:
        h = hashlib.new(name)
        for start in range(0, len(view), block):
            h.update(view[start:start + block])
        digests[name] = h.hexdigest()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(name,)) for name in ("md5", "sha512")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parallel = time.perf_counter() - started

    started = time.perf_counter()
    md5, sha = hashlib.md5(), hashlib.sha512()
    for start in range(0, len(view), block):
        chunk = view[start:start + block]
        md5.update(chunk)
        sha.update(chunk)
    sequential = time.perf_counter() - started
    return {
        "parallel_mb_per_s": round(len(view) / parallel / MB, 1),
        "one_thread_mb_per_s": round(len(view) / sequential / MB, 1),
        "md5": digests["md5"],
        "sha512": digests["sha512"],
    }


# -- data transfers


class Verifier:
    """Compares received blocks with the source at the same offsets."""

    def __init__(self, source: memoryview, base: int, mode: str) -> None:
        self.source = source
        self.base = base
        self.mode = mode
        self.mismatches = 0

    def __call__(self, block: memoryview, offset: int) -> None:
        start = self.base + offset
        if self.mode == "full":
            if block != self.source[start:start + len(block)]:
                self.mismatches += 1
            return
        at = (offset * 2654435761) % max(1, len(block) - SAMPLE) if len(block) > SAMPLE else 0
        window = min(SAMPLE, len(block))
        if bytes(block[at:at + window]) != bytes(self.source[start + at:start + at + window]):
            self.mismatches += 1


def download_streams(endpoint: Endpoint, path: str, source: memoryview, streams: int, verify: str,
                     headers: dict[str, str] | None = None) -> dict[str, Any]:
    results: list[tuple[int, int, int]] = []
    errors: list[str] = []
    barrier = threading.Barrier(streams + 1)

    def one() -> None:
        conn = BlockingConnection(endpoint)
        verifier = Verifier(source, 0, verify)
        try:
            barrier.wait()
            status, got = conn.download(path, headers, verifier)
            results.append((status, got, verifier.mismatches))
        except Exception as exc:  # reported in the result
            errors.append(f"{exc.__class__.__name__}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=one) for _ in range(streams)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    total = sum(got for _, got, _ in results)
    ok = not errors and all(status == 200 and got == len(source) and bad == 0 for status, got, bad in results)
    return {"streams": streams, "mb_per_s": round(total / elapsed / MB, 1), "seconds": round(elapsed, 3),
            "verified": ok, "errors": errors, "statuses": sorted({s for s, _, _ in results})}


def md5_download(endpoint: Endpoint, path: str) -> str:
    digest = hashlib.md5()
    conn = BlockingConnection(endpoint)
    try:
        conn.download(path, None, lambda block, _offset: digest.update(block))
    finally:
        conn.close()
    return digest.hexdigest()


# -- metadata operations


class Api:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def connection(self) -> AsyncConnection:
        return AsyncConnection(self.endpoint)


async def timed_loop(name: str, concurrency: int, seconds: float, max_ops: int,
                     op: Callable[[AsyncConnection, int], Awaitable[bool]], endpoint: Endpoint) -> dict[str, Any]:
    """Run ``op`` from ``concurrency`` connections for ``seconds`` (or ``max_ops``): rate, latency, errors."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors, counter
        conn = AsyncConnection(endpoint)
        try:
            while time.perf_counter() < deadline and counter < max_ops:
                index = counter
                counter += 1
                started = time.perf_counter()
                try:
                    ok = await op(conn, index)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    ok = False
                    print(f"{name}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
                    await conn.close()
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "concurrency": concurrency,
        "ops": len(latencies),
        "ops_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2)
        if latencies else None,
        "errors": errors,
    }


async def metadata_suite(endpoint: Endpoint, seconds: float, writers: int) -> dict[str, Any]:
    tag = f"bench-{uuid.uuid4().hex[:12]}"
    ids: list[str] = []
    json_headers = {"Content-Type": "application/json"}

    async def create(conn: AsyncConnection, index: int) -> bool:
        body = json.dumps({"name": f"{tag}-{index}", "disk_format": "raw", "container_format": "bare",
                           "tags": [tag]}).encode()
        response = await conn.request("POST", "/v2/images", json_headers, body)
        if response.status == 201:
            ids.append(json.loads(response.body)["id"])
            return True
        return False

    async def show(conn: AsyncConnection, index: int) -> bool:
        response = await conn.request("GET", f"/v2/images/{ids[index % len(ids)]}")
        return response.status == 200 and b'"id"' in response.body

    async def list_pages(conn: AsyncConnection, _index: int) -> bool:
        # One operation = one page; a walk starts over at the first page when it reaches the end.
        path = list_state.get(id(conn)) or f"/v2/images?tag={tag}&limit=20"
        response = await conn.request("GET", path)
        if response.status != 200:
            return False
        page = json.loads(response.body)
        list_state[id(conn)] = page.get("next")
        return bool(page["images"]) or "next" not in page

    list_state: dict[int, str | None] = {}

    async def patch(conn: AsyncConnection, index: int) -> bool:
        body = json.dumps([{"op": "replace", "path": "/name", "value": f"{tag}-patched-{index}"}]).encode()
        response = await conn.request("PATCH", f"/v2/images/{ids[index % len(ids)]}",
                                      {"Content-Type": PATCH_TYPE}, body)
        return response.status == 200

    async def write_mix(conn: AsyncConnection, index: int) -> bool:
        if not await create(conn, index):
            return False
        body = json.dumps([{"op": "add", "path": "/bench_writer", "value": str(index)}]).encode()
        response = await conn.request("PATCH", f"/v2/images/{ids[-1]}", {"Content-Type": PATCH_TYPE}, body)
        return response.status == 200

    results: dict[str, Any] = {}
    results["create"] = await timed_loop("create", 1, seconds, 100_000, create, endpoint)
    if not ids:
        return {**results, "error": "no image could be created"}
    results["show_c1"] = await timed_loop("show", 1, seconds, 1_000_000, show, endpoint)
    results["show_c16"] = await timed_loop("show", 16, seconds, 1_000_000, show, endpoint)
    results["list_paged"] = await timed_loop("list", 1, seconds, 1_000_000, list_pages, endpoint)
    results["list_paged"]["page_size"] = 20
    results["list_paged"]["images"] = len(ids)
    results["patch"] = await timed_loop("patch", 1, seconds, 1_000_000, patch, endpoint)
    results[f"writers_c{writers}"] = await timed_loop("writers", writers, seconds, 1_000_000, write_mix, endpoint)

    async def delete(conn: AsyncConnection, index: int) -> bool:
        response = await conn.request("DELETE", f"/v2/images/{ids[index]}")
        return response.status in (204, 404)

    results["cleanup_delete"] = await timed_loop("delete", 8, 600, len(ids), delete, endpoint)
    return results


# -- the run


def upload_once(endpoint: Endpoint, source_path: Path, size: int, limits: dict[str, Any]) -> dict[str, Any]:
    """Create an image and upload the source to it; rate, and whether the server's hashes match ours."""
    image_id = asyncio.run(_create_image(endpoint))["id"]
    conn = BlockingConnection(endpoint)
    fd = os.open(source_path, os.O_RDONLY)
    try:
        started = time.perf_counter()
        response = conn.upload_file(f"/v2/images/{image_id}/file", fd, size,
                                    {"Content-Type": "application/octet-stream"})
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
        conn.close()
    shown = asyncio.run(_show(endpoint, image_id))
    return {"image_id": image_id, "status": response.status, "mb_per_s": round(size / elapsed / MB, 1),
            "checksum_matches": shown.get("checksum") == limits["md5"],
            "os_hash_matches": shown.get("os_hash_value") == limits["sha512"]}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, plus every rate measured."""
    ordered = sorted(runs, key=lambda r: r["mb_per_s"])
    return {**ordered[len(ordered) // 2], "all_mb_per_s": [r["mb_per_s"] for r in runs]}


def data_suite(endpoint: Endpoint, source_path: Path, source: memoryview, args: argparse.Namespace,
               limits: dict[str, Any], watch: MemoryWatch | None, output: dict[str, Any]) -> dict[str, Any]:
    """Uploads and downloads, each repeated ``--repeat`` times interleaved with the same-run limit.

    Interleaving means a disturbance from elsewhere on the machine hits the
    server's numbers and the limits alike; the medians are reported.
    """
    results: dict[str, Any] = {}
    hashing: list[dict[str, Any]] = []
    uploads: list[dict[str, Any]] = []
    if watch:
        watch.mark("upload")
    firsts: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        hashing.append(hashing_limit(source))
        uploads.append(upload_once(endpoint, source_path, len(source), limits))
        # The first read of the image just uploaded (Nova fetching a new image), right after its upload:
        # a store may have dropped what it wrote from the page cache (the filesystem store does for images
        # beyond drop_written_data_above), so this one can come from the disk. One per upload, the median
        # reported: a single 256 MiB read lasts a few tenths of a second, too short to stand alone.
        firsts.append(download_streams(endpoint, f"/v2/images/{uploads[-1]['image_id']}/file", source, 1,
                                       args.verify))
    output["limits"]["hash_md5_sha512"] = {
        "parallel_mb_per_s": statistics.median(h["parallel_mb_per_s"] for h in hashing),
        "one_thread_mb_per_s": statistics.median(h["one_thread_mb_per_s"] for h in hashing),
        "all_parallel_mb_per_s": [h["parallel_mb_per_s"] for h in hashing],
    }
    results["upload"] = median_of(uploads)
    image_id = uploads[-1]["image_id"]
    for extra in uploads[:-1]:
        asyncio.run(_delete(endpoint, extra["image_id"]))
    path = f"/v2/images/{image_id}/file"
    if watch:
        watch.mark("download")
    base = Endpoint.parse(args.baseline_url) if args.baseline_url else None
    base_path = base.base_path if base else ""
    if base:
        base.base_path = ""
    # The first reads, reported on their own; the timed repeats below then compare warm reads with a
    # warm baseline. Verified like them (hashing here would time the client's MD5, ~0.7 GB/s); a
    # later, untimed read is checked by MD5.
    verified = [first["mb_per_s"] if first["verified"] else 0.0 for first in firsts]
    results["download_first_mb_per_s"] = statistics.median(verified)
    results["download_first_all_mb_per_s"] = verified
    results["download_md5_matches"] = md5_download(endpoint, path) == limits["md5"]
    for streams in (1, args.streams):
        mine, theirs = [], []
        for _ in range(args.repeat):
            mine.append(download_streams(endpoint, path, source, streams, args.verify))
            if base:
                theirs.append(download_streams(base, base_path, source, streams, args.verify))
        results[f"download_{streams}"] = median_of(mine)
        if theirs:
            output["limits"][f"baseline_download_{streams}"] = median_of(theirs)
    if watch:
        watch.mark("after")
    asyncio.run(_delete(endpoint, image_id))
    return results


async def _create_image(endpoint: Endpoint) -> dict[str, Any]:
    conn = AsyncConnection(endpoint)
    try:
        body = json.dumps({"name": "bench-data", "disk_format": "raw", "container_format": "bare"}).encode()
        response = await conn.request("POST", "/v2/images", {"Content-Type": "application/json"}, body)
        if response.status != 201:
            raise SystemExit(f"cannot create an image at the endpoint: {response.status} {response.body[:300]!r}")
        result: dict[str, Any] = json.loads(response.body)
        return result
    finally:
        await conn.close()


async def _show(endpoint: Endpoint, image_id: str) -> dict[str, Any]:
    conn = AsyncConnection(endpoint)
    try:
        result: dict[str, Any] = json.loads((await conn.request("GET", f"/v2/images/{image_id}")).body)
        return result
    finally:
        await conn.close()


async def _delete(endpoint: Endpoint, image_id: str) -> None:
    conn = AsyncConnection(endpoint)
    try:
        await conn.request("DELETE", f"/v2/images/{image_id}")
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="Images API root, e.g. http://127.0.0.1:9292")
    p.add_argument("--project", default=None, help="X-Project-Id to send (default: a fresh one)")
    p.add_argument("--roles", default="admin,member,reader", help="X-Roles to send")
    p.add_argument("--size", default="1GiB", help="image size for the data transfers (default 1GiB)")
    p.add_argument("--file", type=Path, help="use this file as the image instead of generated random bytes")
    p.add_argument("--workdir", default=tempfile.gettempdir(), help="where the generated image is kept")
    p.add_argument("--streams", type=int, default=4, help="concurrent download streams (default 4)")
    p.add_argument("--verify", choices=["sample", "full"], default="sample",
                   help="compare a window of every received block (sample) or every byte (full)")
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each metadata scenario")
    p.add_argument("--writers", type=int, default=32, help="concurrent writers scenario (default 32)")
    p.add_argument("--baseline-url", help="the same file served by a plain sendfile server (e.g. nginx)")
    p.add_argument("--repeat", type=int, default=5,
                   help="data transfers (and their limits) are measured this many times, interleaved; medians")
    p.add_argument("--skip-data", action="store_true")
    p.add_argument("--skip-metadata", action="store_true")
    p.add_argument("--watch-pid", type=int, help="sample RSS/PSS of this process and its children")
    p.add_argument("--label", default=None, help="a name for this run in the output")
    args = p.parse_args(argv)

    headers = {"X-Project-Id": args.project or uuid.uuid4().hex, "X-Roles": args.roles,
               "Accept": "application/json"}
    endpoint = Endpoint.parse(args.endpoint, headers)
    watch = MemoryWatch(args.watch_pid) if args.watch_pid else None
    output: dict[str, Any] = {"label": args.label, "endpoint": args.endpoint, "cpus": os.cpu_count()}
    if watch:
        watch.start()
    try:
        if not args.skip_data:
            source_path = args.file or make_source(parse_size(args.size), args.workdir)
            with open(source_path, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            if hasattr(mmap, "MADV_POPULATE_READ"):  # fault the pages in now, not while timing
                mapped.madvise(mmap.MADV_POPULATE_READ)
            else:
                hashlib.md5(mapped).digest()
            source = memoryview(mapped)
            output["size_bytes"] = len(source)
            output["verify"] = args.verify
            limits = hashing_limit(source)  # also the digests the server must report
            output["limits"] = {}
            output["data"] = data_suite(endpoint, source_path, source, args, limits, watch, output)
            output["ratios"] = _ratios(output, args.streams)
            source.release()
            mapped.close()
        if not args.skip_metadata:
            if watch:  # memory is sampled around the metadata scenarios, not during them
                watch.mark("metadata")
                watch.stop_sampling()
            output["metadata"] = asyncio.run(metadata_suite(endpoint, args.seconds, args.writers))
    finally:
        if watch:
            watch.stop()
            output["memory_mib"] = watch.report()
    json.dump(output, sys.stdout, indent=2)
    print()
    return output


def _ratios(output: dict[str, Any], streams: int) -> dict[str, float]:
    data, limits = output["data"], output["limits"]
    ratios = {"upload_vs_parallel_hashing": round(
        data["upload"]["mb_per_s"] / limits["hash_md5_sha512"]["parallel_mb_per_s"], 3)}
    for key in ("download_1", f"download_{streams}"):
        baseline = limits.get(f"baseline_{key}")
        if baseline:
            ratios[f"{key}_vs_baseline"] = round(data[key]["mb_per_s"] / baseline["mb_per_s"], 3)
    return ratios


if __name__ == "__main__":
    main()
