"""Downloads from the filesystem store go out with sendfile: full, ranged and concurrent ones."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from glimpse.server.zerocopy import send_file_region
from tests.conftest import Api, Server, start_server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Debug logging names every zero-copy send, so the tests can see the path is taken.
    server = start_server(tmp_path_factory.mktemp("zerocopy"), workers=2, log_level="debug",
                          env={"GLIMPSE_SERVER_FAST_PATHS": "true"})  # a fast path under test
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stored(debug_server: Server) -> tuple[Api, str, bytes]:
    api = Api(debug_server.url, uuid.uuid4().hex)
    data = os.urandom(24 * MiB + 5)
    image = api.create()
    assert api.upload(image["id"], data).status_code == 204
    return api, image["id"], data


def sendfile_log(server: Server) -> list[tuple[int, int]]:
    return [(int(n), int(at)) for n, at in
            re.findall(r"sendfile of (\d+) bytes from offset (\d+)", server.log.read_text())]


def test_full_download_is_sent_with_sendfile(debug_server: Server, stored: tuple[Api, str, bytes]) -> None:
    api, image_id, data = stored
    response = api.http.get(f"/v2/images/{image_id}/file")
    assert response.status_code == 200 and response.content == data
    assert (len(data), 0) in sendfile_log(debug_server)


def test_ranged_downloads_are_sent_with_sendfile(debug_server: Server, stored: tuple[Api, str, bytes]) -> None:
    api, image_id, data = stored
    for header, expected, logged in [
        ("bytes=1000-2999999", data[1000:3000000], (2999000, 1000)),
        ("bytes=-4096", data[-4096:], (4096, len(data) - 4096)),
        (f"bytes={10 * MiB}-", data[10 * MiB:], (len(data) - 10 * MiB, 10 * MiB)),
    ]:
        response = api.http.get(f"/v2/images/{image_id}/file", headers={"Range": header})
        assert response.status_code == 206
        assert response.content == expected
        assert logged in sendfile_log(debug_server)


def test_concurrent_downloads_each_get_every_byte(stored: tuple[Api, str, bytes]) -> None:
    api, image_id, data = stored
    expected = hashlib.sha256(data).hexdigest()
    digests: list[str] = []

    def fetch() -> None:
        digest = hashlib.sha256()
        with httpx.stream("GET", f"{api.base_url}/v2/images/{image_id}/file",
                          headers={"X-Project-Id": api.project or ""}, timeout=60) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(1 << 16):
                digest.update(chunk)
        digests.append(digest.hexdigest())

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert digests == [expected] * 6


def test_keep_alive_connection_serves_requests_after_a_sendfile(stored: tuple[Api, str, bytes]) -> None:
    api, image_id, data = stored
    with httpx.Client(base_url=api.base_url, headers={"X-Project-Id": api.project or ""}) as client:
        for _ in range(3):
            assert client.get(f"/v2/images/{image_id}/file", headers={"Range": "bytes=0-99"}).content == data[:100]
            assert client.get(f"/v2/images/{image_id}").json()["id"] == image_id


def test_client_going_away_mid_download_does_not_hurt_the_worker(stored: tuple[Api, str, bytes]) -> None:
    api, image_id, data = stored
    import socket

    host, port = api.base_url.removeprefix("http://").split(":")
    for _ in range(3):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(f"GET /v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\nX-Project-Id: {api.project}\r\n\r\n"
                     .encode())
        sock.recv(1000)
        sock.close()
    assert api.http.get(f"/v2/images/{image_id}/file").content == data


def test_send_file_region_sends_exactly_the_region(tmp_path: Path) -> None:
    import socket

    payload = os.urandom(3 * MiB)
    path = tmp_path / "f"
    path.write_bytes(payload)
    left, right = socket.socketpair()
    left.setblocking(False)
    received = bytearray()

    def read() -> None:
        while len(received) < MiB:
            received.extend(right.recv(65536))

    reader = threading.Thread(target=read)
    reader.start()
    with open(path, "rb") as f:
        assert send_file_region(left.fileno(), f.fileno(), 1000, MiB) == MiB
    reader.join()
    assert bytes(received) == payload[1000:1000 + MiB]
    left.close()
    right.close()


def _exchange(sock: socket.socket, request: bytes) -> tuple[bytes, bytes]:
    """Send one request on a kept-alive connection; the response head and its Content-Length body."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length: *(\d+)", head)
    length = int(match.group(1)) if match and not request.startswith(b"HEAD") else 0
    while len(rest) < length:
        rest += sock.recv(65536)
    assert len(rest) == length, "nothing may follow the response"
    return head, rest


def test_small_responses_head_and_304_keep_the_connection_in_step(stored: tuple[Api, str, bytes]) -> None:
    # The head of a small response waits for its body so both leave in one write; responses
    # without a body (HEAD, 304) must still send their head, in order, on the same connection.
    api, image_id, data = stored
    shown = api.http.get(f"/v2/images/{image_id}")
    etag = shown.headers["etag"]
    host, port = api.base_url.removeprefix("http://").split(":")
    auth = f"Host: {host}\r\nX-Project-Id: {api.project}\r\n"
    with socket.create_connection((host, int(port))) as sock:
        for _ in range(3):
            head, body = _exchange(sock, f"GET /v2/images/{image_id} HTTP/1.1\r\n{auth}\r\n".encode())
            assert head.startswith(b"HTTP/1.1 200") and json.loads(body) == shown.json()
            head, body = _exchange(sock, f"HEAD /v2/images/{image_id} HTTP/1.1\r\n{auth}\r\n".encode())
            assert head.startswith(b"HTTP/1.1 200") and etag.encode() in head and body == b""
            head, body = _exchange(
                sock, f"GET /v2/images/{image_id} HTTP/1.1\r\n{auth}If-None-Match: {etag}\r\n\r\n".encode())
            assert head.startswith(b"HTTP/1.1 304") and body == b""
            head, body = _exchange(sock, f"GET /v2/images/{image_id}/file HTTP/1.1\r\n{auth}Range: bytes=0-9\r\n\r\n"
                                   .encode())
            assert head.startswith(b"HTTP/1.1 206") and body == data[:10]
