#!/usr/bin/env python3
"""Server CPU time per metadata request: a measure that does not depend on the machine's load.

Starts ``glimpse-api`` (SQLite, a fresh data directory, ``--workers`` processes),
creates ``--images`` images, then for each scenario sends ``--requests``
requests from one keep-alive connection (``--concurrency`` connections for
the ``*_c16`` scenarios) and reads the user+system CPU time of the worker
processes from ``/proc/<pid>/stat`` before and after. Prints one JSON
document: microseconds of server CPU per request, per scenario.

    python bench/cpu_per_request.py --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare import free_port, wait_http  # noqa: E402
from lean_http import AsyncConnection, Endpoint  # noqa: E402

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int], *, system_only: bool = False) -> float:
    """User plus system CPU time of the processes (only system time with ``system_only``), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[12]) + (0 if system_only else int(fields[11]))  # stime, utime (fields 15 and 14)
    return total / _TICKS


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


async def run(endpoint: Endpoint, workers: list[int], args: argparse.Namespace) -> dict[str, Any]:
    tag = f"cpu-{uuid.uuid4().hex[:8]}"
    ids: list[str] = []
    conn = AsyncConnection(endpoint)
    for i in range(args.images):
        body = json.dumps({"name": f"{tag}-{i}", "disk_format": "raw", "container_format": "bare",
                           "tags": [tag]}).encode()
        response = await conn.request("POST", "/v2/images", {"Content-Type": "application/json"}, body)
        assert response.status == 201, response
        ids.append(json.loads(response.body)["id"])
    list_state: dict[int, str | None] = {}

    async def show(c: AsyncConnection, i: int) -> None:
        response = await c.request("GET", f"/v2/images/{ids[i % len(ids)]}")
        assert response.status == 200, response

    async def list_pages(c: AsyncConnection, i: int) -> None:
        path = list_state.get(id(c)) or f"/v2/images?tag={tag}&limit=20"
        response = await c.request("GET", path)
        assert response.status == 200, response
        list_state[id(c)] = json.loads(response.body).get("next")

    async def patch(c: AsyncConnection, i: int) -> None:
        body = json.dumps([{"op": "replace", "path": "/name", "value": f"{tag}-p-{i}"}]).encode()
        response = await c.request("PATCH", f"/v2/images/{ids[i % len(ids)]}", {"Content-Type": PATCH_TYPE}, body)
        assert response.status == 200, response

    async def create(c: AsyncConnection, i: int) -> None:
        body = json.dumps({"name": f"{tag}-c-{i}", "disk_format": "raw", "container_format": "bare"}).encode()
        response = await c.request("POST", "/v2/images", {"Content-Type": "application/json"}, body)
        assert response.status == 201, response

    scenarios: dict[str, tuple[Callable[[AsyncConnection, int], Awaitable[None]], int, int]] = {
        "show_c1": (show, 1, args.requests),
        "show_c16": (show, args.concurrency, args.requests),
        "list_c1": (list_pages, 1, args.requests // 4),
        "patch_c1": (patch, 1, args.requests // 10),
        "create_c1": (create, 1, args.requests // 10),
    }
    results: dict[str, Any] = {}
    for name, (op, concurrency, count) in scenarios.items():
        if args.only and name not in args.only:
            continue
        connections = [AsyncConnection(endpoint) for _ in range(concurrency)]
        for c in connections:  # warm: connect, fill caches
            await op(c, 0)
        counter = iter(range(count))

        async def loop(c: AsyncConnection) -> None:
            for i in counter:
                await op(c, i)

        before, system_before, started = cpu_seconds(workers), cpu_seconds(workers, system_only=True), \
            time.perf_counter()
        await asyncio.gather(*(loop(c) for c in connections))
        elapsed, used = time.perf_counter() - started, cpu_seconds(workers) - before
        system = cpu_seconds(workers, system_only=True) - system_before
        results[name] = {"requests": count, "cpu_us_per_request": round(used / count * 1e6, 1),
                         "of_which_system_us": round(system / count * 1e6, 1), "ops_per_s": round(count / elapsed, 1)}
        for c in connections:
            await c.close()
    await conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="glimpse-cpu-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    log = open(data / "glimpse.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "glimpse.cli.serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
         str(data / "data"), "--workers", str(args.workers), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthcheck")
        deadline = time.monotonic() + 30
        while len(workers := children(server.pid)) < args.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        endpoint = Endpoint.parse(f"http://127.0.0.1:{port}", {"X-Project-Id": f"p-{uuid.uuid4().hex[:8]}"})
        results = asyncio.run(run(endpoint, workers, args))
        print(json.dumps({"workers": args.workers, "load": os.getloadavg()[0], **results}, indent=1))
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
