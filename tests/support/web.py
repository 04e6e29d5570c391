"""A small HTTP server of deterministic files, for importing from a URL (web-download)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


class Files(http.server.BaseHTTPRequestHandler):
    """Serves ``/<n>`` as ``n`` deterministic bytes; ``/missing`` answers 404; ``/moved`` redirects
    to ``/10``; ``/slow`` never finishes; ``/redirect?to=<url>`` answers 302 to the (percent-encoded) URL."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", urllib.parse.unquote(self.path[len("/redirect?to="):]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/missing":
            self.send_error(404)
            return
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/10")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * MiB))
            self.end_headers()
            self.wfile.write(b"s" * 1000)
            self.wfile.flush()
            time.sleep(60)
            return
        body = payload(int(self.path.strip("/")))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def payload(size: int) -> bytes:
    return (hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1))[:size]


@contextlib.contextmanager
def serve_files(host: str = "127.0.0.1") -> Iterator[str]:
    """Serve :class:`Files` on a port of loopback address ``host``; yields its base URL."""
    server = http.server.ThreadingHTTPServer((host, 0), Files)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{host}:{server.server_address[1]}"
    server.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_directory(directory: Path, host: str = "127.0.0.2") -> Iterator[str]:
    """Serve the files of ``directory`` on a port of loopback address ``host``; yields its base URL."""
    server = http.server.ThreadingHTTPServer((host, 0), functools.partial(_Quiet, directory=str(directory)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
