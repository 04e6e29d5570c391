#!/usr/bin/env python3
"""Slow and stalled clients against a node: does it stay responsive, and does it shed the load cleanly?

Against ``--endpoint`` (loopback only: the script refuses anything else) it creates ``--uploads``
queued images spread over ``--projects`` projects, opens one upload per image and stalls it (half
sized, half chunked; ``--trickle`` sends a byte a second to each instead, once the probes are done), plus ``--slowloris`` connections
trickling their headers. While they are open it measures ``/healthcheck`` and an image show
``--probes`` times each, then waits (at most ``--wait`` seconds) for every upload to be answered.
It prints one JSON document: the answers by status (408 cut off, 429 per project, 503 per worker),
p50/p99/max of the probes, the 5xx other than 503 seen (should be 0), and whether the node serves
an upload afterwards. Bounded: every loop has a count and a deadline.

    glimpse-api --workers 2 &
    python bench/slow_clients.py --endpoint http://127.0.0.1:9292 --uploads 300
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import select
import socket
import statistics
import sys
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import httpx


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", default="http://127.0.0.1:9292")
    p.add_argument("--uploads", type=int, default=300)
    p.add_argument("--projects", type=int, default=30)
    p.add_argument("--slowloris", type=int, default=100, help="connections trickling their headers")
    p.add_argument("--probes", type=int, default=200, help="health checks and image shows each, measured")
    p.add_argument("--trickle", action="store_true", help="send a byte a second instead of stalling")
    p.add_argument("--wait", type=float, default=180.0, help="seconds to wait for the uploads' answers")
    args = p.parse_args()
    parts = urlsplit(args.endpoint)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        sys.exit("slow_clients.py only runs against a loopback address")

    projects = [uuid.uuid4().hex for _ in range(args.projects)]
    images: list[tuple[str, str]] = []
    with httpx.Client(base_url=args.endpoint, timeout=60) as client:
        for n in range(args.uploads):
            project = projects[n % len(projects)]
            created = client.post("/v2/images", json={"name": f"slow-{n}", "disk_format": "raw",
                                                      "container_format": "bare"},
                                  headers={"X-Project-Id": project})
            created.raise_for_status()
            images.append((project, created.json()["id"]))
    images.sort()  # a project's uploads one after another

    uploads = []
    for n, (project, image_id) in enumerate(images):
        conn = socket.create_connection((host, port), timeout=30)
        framing = f"Content-Length: {1 << 30}" if n % 2 else "Transfer-Encoding: chunked"
        conn.sendall((f"PUT /v2/images/{image_id}/file HTTP/1.1\r\nHost: {host}\r\nX-Project-Id: {project}\r\n"
                      f"Content-Type: application/octet-stream\r\n{framing}\r\n\r\n").encode())
        conn.sendall(b"u" * 100 if n % 2 else b"64\r\n" + b"u" * 100 + b"\r\n")
        uploads.append((conn, n % 2 == 1))
    slowloris = []
    for _ in range(args.slowloris):
        conn = socket.create_connection((host, port), timeout=30)
        conn.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n")
        slowloris.append(conn)

    health: list[float] = []
    shows: list[float] = []
    project, image_id = images[0]
    with httpx.Client(base_url=args.endpoint, timeout=30) as client:
        for _ in range(args.probes):
            started = time.perf_counter()
            client.get("/healthcheck")
            health.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.get(f"/v2/images/{image_id}", headers={"X-Project-Id": project})
            shows.append(time.perf_counter() - started)

    statuses: Counter[str] = Counter()
    pending = {conn.fileno(): conn for conn, _ in uploads}
    sized = {conn.fileno(): is_sized for conn, is_sized in uploads}
    deadline = time.monotonic() + args.wait
    while pending and time.monotonic() < deadline:
        if args.trickle:  # a byte a second to every upload still open
            for fd, conn in pending.items():
                try:
                    conn.sendall(b"t" if sized[fd] else b"1\r\nt\r\n")
                except OSError:
                    pass
        ready, _, _ = select.select(list(pending.values()), [], [], 1.0)
        for conn in ready:
            try:
                head = conn.recv(65536)
                statuses[head.split(b" ", 2)[1].decode() if head else "closed"] += 1
            except OSError:
                statuses["reset"] += 1
            del pending[conn.fileno()]
            conn.close()
    statuses["unanswered"] += len(pending)
    for conn in [*pending.values(), *slowloris]:
        conn.close()

    with httpx.Client(base_url=args.endpoint, timeout=60) as client:
        fresh = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"},
                            headers={"X-Project-Id": projects[0]}).json()["id"]
        after = client.put(f"/v2/images/{fresh}/file", content=b"after", headers={
            "X-Project-Id": projects[0], "Content-Type": "application/octet-stream"}).status_code

    def figures(samples: list[float]) -> dict[str, float]:
        ordered = sorted(samples)
        return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
                "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1)}

    print(json.dumps({
        "uploads": args.uploads, "slowloris": args.slowloris, "trickle": args.trickle,
        "answers": dict(statuses),
        "server_errors_other_than_503": sum(n for s, n in statuses.items() if s.startswith("5") and s != "503"),
        "healthcheck": figures(health), "image_show": figures(shows),
        "upload_after": after,
    }, indent=2))


if __name__ == "__main__":
    main()
