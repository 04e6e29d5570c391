#!/usr/bin/env python3
"""New connections per second: each request on a connection of its own (``Connection: close``).

Clients that do not keep connections alive (health checks, ``curl`` in scripts, some load
balancers) make a server accept a connection per request. This opens ``--threads`` client threads
that each make ``--requests`` such requests to ``--path`` and prints one JSON document:
connections per second and the p50/p99 latency of connect + request + response + close.
Compare two servers (or two versions) by running it against each in the same session.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from urllib.parse import urlsplit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:9292")
    p.add_argument("--path", default="/healthcheck")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--requests", type=int, default=1500, help="per thread")
    args = p.parse_args()
    parts = urlsplit(args.endpoint)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {args.path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    latencies: list[float] = []
    failures: list[int] = []  # list.append is atomic across threads; ``+=`` on a shared int is not

    def run() -> None:
        for _ in range(args.requests):
            started = time.perf_counter()
            try:
                with socket.create_connection((host, port), timeout=30) as conn:
                    conn.sendall(request)
                    head = conn.recv(65536)
                    while conn.recv(65536):
                        pass
                ok = head.startswith(b"HTTP/1.1 2")
            except OSError:
                ok = False
            latencies.append(time.perf_counter() - started)
            if not ok:
                failures.append(1)

    threads = [threading.Thread(target=run) for _ in range(args.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "endpoint": args.endpoint, "threads": args.threads, "connections": len(latencies), "errors": len(failures),
        "connections_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }))


if __name__ == "__main__":
    main()
