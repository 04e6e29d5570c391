"""Sized uploads read straight from the socket: keep-alive, pipelining, early errors and disconnects."""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from tests.conftest import SERVER_PATHS, Api, Server, start_server

MiB = 1024 * 1024
#: The size cap of the server under test.
CAP = 32 * MiB


@pytest.fixture(scope="module", params=SERVER_PATHS)
def debug_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Debug logging names every body read from the socket, so the tests can see the path is taken.
    # The same behaviour (keep-alive, pipelining, early errors, disconnects) is required of the plain
    # path, where uvicorn hands the body over in pieces.
    server = start_server(tmp_path_factory.mktemp("socket-body"), workers=2, log_level="debug",
                          env={"GLIMPSE_IMAGE_SIZE_CAP": str(CAP),
                               "GLIMPSE_SERVER_FAST_PATHS": str(request.param == "fast-paths").lower()})
    yield server
    server.stop()


@pytest.fixture
def api(debug_server: Server) -> Iterator[Api]:
    client = Api(debug_server.url, uuid.uuid4().hex)
    yield client
    client.close()


class Connection:
    """One HTTP/1.1 connection driven by hand, so tests control exactly what is sent and when."""

    def __init__(self, server: Server, project: str) -> None:
        parsed = urlparse(server.url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=60)
        self.project = project
        self.pending = b""

    def head(self, method: str, path: str, length: int | None = None, **headers: str) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: glimpse", f"X-Project-Id: {self.project}",
                 "Content-Type: application/octet-stream"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """The next response: status, headers (lower-case names) and body."""
        while b"\r\n\r\n" not in self.pending:
            self._more()
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            self._more()
        body, self.pending = self.pending[:length], self.pending[length:]
        return int(lines[0].split()[1]), headers, body

    def _more(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.pending += data

    def closed_by_server(self) -> bool:
        """Whether the server closes the connection without sending anything more."""
        try:
            return self.sock.recv(1 << 16) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connection(debug_server: Server, api: Api) -> Iterator[Connection]:
    conn = Connection(debug_server, api.project or "")
    yield conn
    conn.close()


def read_from_socket(server: Server, image_id: str) -> bool:
    """Whether the body was read from the socket: always with the fast paths, never without."""
    taken = f"body of PUT /v2/images/{image_id}/file read from the socket" in server.log.read_text()
    return taken if server.fast_paths else not taken


def stored_files(server: Server) -> list[str]:
    return os.listdir(server.data_dir / "images")


def wait_until_queued_without_data(api: Api, server: Server, image_id: str) -> dict[str, object]:
    """The image once the failed upload has ended: its request logged, the image queued, no data stored.

    Queued and without data is also how the image looks before that upload starts saving (the
    server may close a half-closed connection first), so the end of the request is waited for too.
    """
    ended = f'"PUT /v2/images/{image_id}/file HTTP/1.1" '
    deadline = time.monotonic() + 30
    while True:
        shown = api.show(image_id)
        if ended in server.log.read_text() and shown["status"] == "queued" \
                and not any(image_id in name for name in stored_files(server)):
            return shown
        assert time.monotonic() < deadline, (shown, stored_files(server))
        time.sleep(0.05)


def test_sized_upload_is_read_from_the_socket_and_the_connection_serves_on(
        debug_server: Server, api: Api, connection: Connection) -> None:
    image = api.create()
    data = os.urandom(24 * MiB + 5)
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", len(data)) + data)
    assert connection.response()[0] == 204
    connection.sock.sendall(connection.head("GET", f"/v2/images/{image['id']}"))
    status, _, body = connection.response()
    assert status == 200 and b'"status":"active"' in body.replace(b" ", b"")
    assert read_from_socket(debug_server, image["id"])
    shown = api.show(image["id"])
    assert shown["size"] == len(data) and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert api.http.get(f"/v2/images/{image['id']}/file").content == data


def test_uploads_one_after_another_on_a_keep_alive_connection(debug_server: Server, api: Api) -> None:
    images = [api.create() for _ in range(3)]
    payloads = [os.urandom(3 * MiB + i) for i in range(3)]
    for image, data in zip(images, payloads):
        assert api.upload(image["id"], data).status_code == 204
    for image, data in zip(images, payloads):
        assert read_from_socket(debug_server, image["id"])
        assert api.http.get(f"/v2/images/{image['id']}/file").content == data


def test_request_pipelined_behind_a_sized_upload_is_answered(api: Api, connection: Connection) -> None:
    image = api.create()
    data = os.urandom(5 * MiB)
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", len(data)) + data
                            + connection.head("GET", f"/v2/images/{image['id']}"))
    assert connection.response()[0] == 204
    status, _, body = connection.response()
    assert status == 200 and image["id"].encode() in body


def test_expect_100_continue_is_answered_before_the_body(api: Api, connection: Connection) -> None:
    image = api.create()
    data = os.urandom(2 * MiB)
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", len(data),
                                            Expect="100-continue"))
    assert connection.response()[0] == 100
    connection.sock.sendall(data)
    assert connection.response()[0] == 204
    assert api.http.get(f"/v2/images/{image['id']}/file").content == data


def test_error_before_the_body_is_read_drops_the_body_and_keeps_the_connection(
        api: Api, connection: Connection) -> None:
    image = api.create()
    assert api.upload(image["id"], b"first").status_code == 204
    data = os.urandom(4 * MiB)
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", len(data)) + data)
    assert connection.response()[0] == 409
    connection.sock.sendall(connection.head("GET", f"/v2/images/{image['id']}/file"))
    assert connection.response()[2] == b"first"


def test_size_mismatch_found_mid_body_is_400_and_leaves_a_queued_image_without_data(
        debug_server: Server, api: Api, connection: Connection) -> None:
    image = api.create()
    data = os.urandom(6 * MiB)
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", len(data),
                                            **{"X-OpenStack-Image-Size": str(MiB)}) + data)
    status, _, body = connection.response()
    assert status == 400 and b"declared size" in body
    shown = wait_until_queued_without_data(api, debug_server, image["id"])
    assert shown["size"] is None and shown["checksum"] is None
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", MiB) + data[:MiB])
    assert connection.response()[0] == 204
    assert api.http.get(f"/v2/images/{image['id']}/file").content == data[:MiB]


def test_body_over_the_size_cap_is_413_and_the_connection_serves_on(
        debug_server: Server, api: Api, connection: Connection) -> None:
    image = api.create()
    data = os.urandom(CAP + MiB)
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", len(data)) + data)
    assert connection.response()[0] == 413
    wait_until_queued_without_data(api, debug_server, image["id"])
    connection.sock.sendall(connection.head("GET", f"/v2/images/{image['id']}"))
    assert connection.response()[0] == 200


def test_client_disconnect_mid_body_leaves_no_data_and_a_queued_image(
        debug_server: Server, api: Api, connection: Connection) -> None:
    image = api.create()
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", 12 * MiB)
                            + os.urandom(5 * MiB))
    deadline = time.monotonic() + 30
    while api.show(image["id"])["status"] != "saving" or not read_from_socket(debug_server, image["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    connection.close()
    shown = wait_until_queued_without_data(api, debug_server, image["id"])
    assert shown["size"] is None and shown["checksum"] is None and shown["os_hash_value"] is None
    assert api.upload(image["id"], b"retry").status_code == 204
    assert api.http.get(f"/v2/images/{image['id']}/file").content == b"retry"


def test_body_shorter_than_its_content_length_then_end_of_stream(
        debug_server: Server, api: Api, connection: Connection) -> None:
    image = api.create()
    data = os.urandom(3 * MiB)
    connection.sock.sendall(connection.head("PUT", f"/v2/images/{image['id']}/file", len(data) + 1000) + data)
    connection.sock.shutdown(socket.SHUT_WR)  # the client has nothing more to send, but still listens
    assert connection.closed_by_server()
    assert read_from_socket(debug_server, image["id"])
    shown = wait_until_queued_without_data(api, debug_server, image["id"])
    assert shown["size"] is None and shown["checksum"] is None
    again = api.upload(image["id"], data)
    assert again.status_code == 204, again.text
