"""Object reads over plain HTTP (``glimpse.stores.http_reads``) against a Swift that misbehaves.

radosgw never cuts a body short on purpose, so a small Swift of our own does: it signs in v1-style,
answers a GET with fewer bytes than its ``Content-Length``, and refuses a token once. The contract
suite (``test_contract.py``) covers the same reads against radosgw.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from glimpse.stores.base import StoreObjectNotFound, StoreUnavailableError
from glimpse.stores.loader import driver_class

MiB = 1 << 20
DATA = os.urandom(3 * MiB + 17)


class _Swift(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tokens: list[str] = []  # every token handed out; only the newest is accepted
    refused: list[str] = []  # tokens refused with 401
    reads: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        cls = type(self)
        if self.path == "/auth/1.0":
            cls.tokens.append(f"tok-{len(cls.tokens) + 1}")
            self._head(204, {"X-Storage-Url": f"http://127.0.0.1:{self.server.server_address[1]}/v1/AUTH_a",
                             "X-Auth-Token": cls.tokens[-1], "Content-Length": "0"})
            return
        token = self.headers.get("X-Auth-Token", "")
        cls.reads.append({"path": self.path, "token": token, "range": self.headers.get("Range", "")})
        if token != cls.tokens[-1] or token == "tok-1":  # the first token "expired" before its first use
            cls.refused.append(token)
            self._head(401, {"Content-Length": "0"})
            return
        if self.path == "/v1/AUTH_a/c/short":
            self._head(200, {"Content-Length": str(len(DATA))})
            self.wfile.write(DATA[:100_000])  # and the connection closes: the rest never comes
            self.close_connection = True
            return
        if self.path == "/v1/AUTH_a/c/whole":
            start = 0
            if (wanted := self.headers.get("Range", "")).startswith("bytes="):
                start = int(wanted.removeprefix("bytes=").split("-")[0])
            body = DATA[start:]
            self._head(206 if start else 200, {"Content-Length": str(len(body))})
            self.wfile.write(body)
            return
        self._head(404, {"Content-Length": "0"})

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def swift() -> Iterator[tuple[Any, type[_Swift]]]:
    handler = type("Swift", (_Swift,), {"tokens": [], "refused": [], "reads": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    store = driver_class("swift")(auth_address=f"http://127.0.0.1:{server.server_address[1]}/auth/1.0",
                                  auth_version=1, user="a:b", key="k", container="c", read_timeout=5)
    yield store, handler
    server.shutdown()
    server.server_close()


def test_a_body_cut_short_is_an_error_not_a_smaller_object(swift: tuple[Any, type[_Swift]]) -> None:
    store, _ = swift
    received = bytearray()
    with pytest.raises(StoreUnavailableError) as caught:
        for chunk in store.open("short"):
            received += chunk
    assert len(received) <= 100_000 and "tok-" not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_a_refused_token_is_renewed_once_and_the_object_read_whole_and_by_range(
        swift: tuple[Any, type[_Swift]]) -> None:
    store, handler = swift
    assert b"".join(store.open("whole")) == DATA
    assert handler.refused == ["tok-1"] and [read["token"] for read in handler.reads] == ["tok-1", "tok-2"]
    assert b"".join(store.open("whole", offset=MiB, length=2 * MiB + 17)) == DATA[MiB:]
    assert handler.reads[-1]["range"] == f"bytes={MiB}-{3 * MiB + 16}"
    with pytest.raises(StoreObjectNotFound):
        store.open("missing")
