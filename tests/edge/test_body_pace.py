"""Request bodies that stall or trickle are cut off (408, connection closed), leaving the image queued
and nothing in the store, on both body paths: sized (read from the socket) and chunked."""

from __future__ import annotations

import select
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api, Server, _server_database, start_server
from tests.edge.conftest import EDGE_ENV
from tests.support.raw_http import RawConnection, RawResponse, request_head

CHUNKED = "Transfer-Encoding: chunked"


@pytest.fixture
def api(edge_server: Server) -> Api:
    return Api(edge_server.url, uuid.uuid4().hex)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_db_server(request: pytest.FixtureRequest, edge_server: Server,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The edge server (SQLite), then one like it on PostgreSQL: where a cut-off upload's revert is stored."""
    if request.param == "sqlite":
        yield edge_server
        return
    for url in _server_database("postgresql", tmp_path_factory.mktemp("pace-db")):
        server = start_server(tmp_path_factory.mktemp("pace-pg"), database_url=url, workers=1, env=EDGE_ENV)
        yield server
        server.stop()


def start_upload(server: Server, api: Api, *headers: str) -> tuple[str, RawConnection]:
    image_id = api.create(name="slow")["id"]
    conn = RawConnection(server.url, timeout=20)
    conn.send(request_head("PUT", f"/v2/images/{image_id}/file", f"X-Project-Id: {api.project}",
                           "Content-Type: application/octet-stream", *headers))
    return image_id, conn


def nothing_stored(server: Server, image_id: str) -> bool:
    store = Path(server.data_dir) / "images"
    return not [path for path in store.iterdir() if image_id in path.name]


def assert_cut_off(response: RawResponse, server: Server, api: Api, image_id: str) -> None:
    assert response.status == 408, response.body
    assert response.headers["connection"] == "close"
    assert api.show(image_id)["status"] == "queued"
    assert nothing_stored(server, image_id)


def test_a_chunked_upload_that_stalls_is_answered_408_after_the_idle_timeout(any_db_server: Server) -> None:
    edge_server, api = any_db_server, Api(any_db_server.url, uuid.uuid4().hex)
    image_id, conn = start_upload(edge_server, api, CHUNKED)
    started = time.monotonic()
    conn.send(b"64\r\n" + b"x" * 100 + b"\r\n")  # one chunk, then nothing
    response = conn.response()
    assert 1.5 < time.monotonic() - started < 8
    assert b"No byte of the request body arrived for 2 seconds" in response.body
    assert_cut_off(response, edge_server, api, image_id)
    assert conn.closed_by_server()


def test_a_sized_upload_that_stalls_is_answered_408_after_the_idle_timeout(any_db_server: Server) -> None:
    edge_server, api = any_db_server, Api(any_db_server.url, uuid.uuid4().hex)
    image_id, conn = start_upload(edge_server, api, f"Content-Length: {1 << 20}")
    conn.send(b"y" * 1000)
    response = conn.response()
    assert_cut_off(response, edge_server, api, image_id)
    assert conn.closed_by_server()


@pytest.mark.parametrize("framing", ["sized", "chunked"])
def test_an_upload_trickled_below_the_minimum_rate_is_cut_off_after_its_window(edge_server: Server, api: Api,
                                                                             framing: str) -> None:
    header = f"Content-Length: {1 << 20}" if framing == "sized" else CHUNKED
    image_id, conn = start_upload(edge_server, api, header)
    piece = b"z" * 10 if framing == "sized" else b"a\r\n" + b"z" * 10 + b"\r\n"
    started = time.monotonic()
    # 10 bytes every 0.3 s: never idle for the 2 s timeout, far below 4 KiB/s, until the server answers.
    while not select.select([conn.sock], [], [], 0.3)[0] and time.monotonic() - started < 15:
        conn.send(piece)
    response = conn.response()
    assert time.monotonic() - started < 8  # the 3 s window, and the answer
    assert b"bytes per second" in response.body
    assert_cut_off(response, edge_server, api, image_id)


def test_a_steady_upload_is_not_cut_off(edge_server: Server, api: Api) -> None:
    image_id = api.create(name="steady")["id"]
    data = b"s" * (3 << 20)
    assert api.upload(image_id, data).status_code == 204
    assert httpx.get(f"{edge_server.url}/v2/images/{image_id}/file",
                     headers={"X-Project-Id": api.project}).content == data
