#!/usr/bin/env python3
"""First reads on the other worker: what warm sibling caches (``glimpse.server.sibling_writes``) buy.

Starts ``glimpse-api`` with two workers (SQLite), creates ``--images`` images on
one keep-alive connection (held open), then shows each image once on a
connection served by the other worker (which worker served which phase is read
from the workers' CPU time in ``/proc/<pid>/stat``).
Prints one JSON document: per show, the serving worker's CPU (µs) and the
client's p50/p99 latency (ms).

    python bench/first_reads.py --images 2000
    BENCH_NO_SIBLING=1 python bench/first_reads.py --images 2000   # only with a build that reads it
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare import free_port, wait_http  # noqa: E402
from cpu_per_request import children, cpu_seconds  # noqa: E402
from lean_http import AsyncConnection, Endpoint  # noqa: E402


async def run(endpoint: Endpoint, workers: list[int], images: int, settle: float) -> dict[str, object]:
    creator = AsyncConnection(endpoint)
    before = {pid: cpu_seconds([pid]) for pid in workers}
    ids = []
    for i in range(images):
        body = json.dumps({"name": f"first-{i}", "disk_format": "raw", "container_format": "bare"}).encode()
        response = await creator.request("POST", "/v2/images", {"Content-Type": "application/json"}, body)
        assert response.status == 201, response
        ids.append(json.loads(response.body)["id"])
    created = {pid: cpu_seconds([pid]) - before[pid] for pid in workers}
    await asyncio.sleep(settle)  # let the sibling caches catch up, as between an upload and a boot
    creating = max(created, key=created.__getitem__)
    # Two more connections: with the creator's held open, the balancing puts at least one of them on
    # the other worker. Each shows every image once; the first to run on the other worker is reported.
    readers = [AsyncConnection(endpoint), AsyncConnection(endpoint)]
    for reader in readers:
        assert (await reader.request("GET", "/healthcheck")).status == 200
    result: dict[str, object] = {"other_worker": False}
    for reader in readers:
        before = {pid: cpu_seconds([pid]) for pid in workers}
        latencies = []
        for image_id in ids:
            started = time.perf_counter()
            response = await reader.request("GET", f"/v2/images/{image_id}")
            latencies.append(time.perf_counter() - started)
            assert response.status == 200, response
        shown = {pid: cpu_seconds([pid]) - before[pid] for pid in workers}
        serving = max(shown, key=shown.__getitem__)
        if serving != creating:
            latencies.sort()
            result = {"other_worker": True, "cpu_us_per_show": round(shown[serving] / images * 1e6, 1),
                      "p50_ms": round(statistics.median(latencies) * 1000, 3),
                      "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3)}
            break
    for reader in readers:
        await reader.close()
    await creator.close()
    return {**result, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between creating and showing")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="glimpse-first-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    with open(data / "glimpse.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "glimpse.cli.serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
             str(data / "data"), "--workers", "2", "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
            env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthcheck")
        deadline = time.monotonic() + 30
        while len(workers := children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        endpoint = Endpoint.parse(f"http://127.0.0.1:{port}", {"X-Project-Id": f"p-{uuid.uuid4().hex[:8]}"})
        print(json.dumps(asyncio.run(run(endpoint, workers, args.images, args.settle))))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
