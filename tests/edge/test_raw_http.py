"""What an HTTP library will not send: malformed chunked bodies, smuggling-shaped heads, absurd ranges,
pipelining, half-closed sockets. Each gets a clear 4xx (or a close), never a 5xx, never a hung worker."""

from __future__ import annotations

import socket
import time
import uuid

import httpx
import pytest

from tests.conftest import Api, Server
from tests.support.raw_http import RawConnection, request_head


@pytest.fixture
def api(edge_server: Server) -> Api:
    return Api(edge_server.url, uuid.uuid4().hex)


def settles_queued(api: Api, image_id: str) -> bool:
    """Whether the image is (back) in ``queued`` within 20 s (a busy machine): a cut-off upload is
    reverted by its thread once the server has answered."""
    deadline = time.monotonic() + 20
    while api.show(image_id)["status"] != "queued":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def upload_head(api: Api, image_id: str, *headers: str) -> bytes:
    return request_head("PUT", f"/v2/images/{image_id}/file", f"X-Project-Id: {api.project}",
                        "Content-Type: application/octet-stream", *headers)


@pytest.mark.parametrize("body", [
    b"zz\r\nabc\r\n0\r\n\r\n",  # a chunk size that is not hexadecimal
    b"3\r\nabcdef\r\n0\r\n\r\n",  # a chunk longer than its size (no CRLF where it should end)
    b"3\r\nabc0\r\n\r\n",  # the CRLF after the chunk data missing
    b"C9F2C9CD04674EDEA40000000\r\nabc\r\n",  # a chunk size of about 10^30
    b"-5\r\nabcde\r\n0\r\n\r\n",  # a negative chunk size
], ids=["not-hex", "too-long", "missing-crlf", "overflow", "negative"])
def test_a_malformed_chunked_upload_is_answered_400_and_leaves_the_image_queued(edge_server: Server, api: Api,
                                                                               body: bytes) -> None:
    image_id = api.create(name="malformed")["id"]
    conn = RawConnection(edge_server.url)
    try:
        conn.send(upload_head(api, image_id, "Transfer-Encoding: chunked") + body)
        response = conn.response()
        assert response.status == 400
        assert conn.closed_by_server()
    finally:
        conn.close()
    assert settles_queued(api, image_id)


@pytest.mark.parametrize("headers", [
    ("Content-Length: 5", "Transfer-Encoding: chunked"),  # the classic smuggling pair
    ("Content-Length: 5", "Content-Length: 6"),
    ("Content-Length: -5",),
    ("Content-Length: " + "9" * 5000,),
    ("Transfer-Encoding: gzip, chunked, identity",),
], ids=["length-and-chunked", "two-lengths", "negative-length", "5000-digit-length", "chunked-not-last"])
def test_an_ambiguous_body_framing_is_answered_400(edge_server: Server, api: Api, headers: tuple[str, ...]) -> None:
    image_id = api.create(name="ambiguous")["id"]
    conn = RawConnection(edge_server.url)
    try:
        conn.send(upload_head(api, image_id, *headers) + b"hello")
        response = conn.response()
        assert response.status == 400
    finally:
        conn.close()
    assert settles_queued(api, image_id)


@pytest.mark.parametrize("name,value", [
    ("Range", "bytes=" + "9" * 5000 + "-"),
    ("Range", "bytes=0-" + "9" * 5000),
    ("Range", "bytes=-" + "9" * 5000),
    ("Content-Range", "bytes " + "9" * 5000 + "-" + "9" * 5001 + "/*"),
], ids=["first", "last", "suffix", "legacy"])
def test_a_range_with_5000_digits_is_answered_416_with_a_message(edge_server: Server, api: Api, name: str,
                                                                value: str) -> None:
    image_id = api.create(name="ranged")["id"]
    api.upload(image_id, b"0123456789")
    response = api.http.get(f"/v2/images/{image_id}/file", headers={name: value})
    assert response.status_code == 416
    assert "beyond the end of any image" in response.json()["message"] or "Cannot parse" in response.json()["message"]
    assert len(response.text) < 1000  # the header is not echoed in full


def test_two_requests_in_one_write_get_two_answers_in_order(edge_server: Server, api: Api) -> None:
    image_id = api.create(name="pipelined")["id"]
    conn = RawConnection(edge_server.url)
    try:
        show = request_head("GET", f"/v2/images/{image_id}", f"X-Project-Id: {api.project}")
        conn.send(request_head("GET", "/healthcheck", "Accept: text/plain") + show)
        first, second = conn.response(), conn.response()
        assert first.status == 200 and first.body == b"OK"
        assert second.status == 200 and image_id.encode() in second.body
        conn.send(show)  # and the connection serves on
        assert conn.response().status == 200
    finally:
        conn.close()


def test_a_request_from_a_half_closed_socket_is_still_answered(edge_server: Server) -> None:
    conn = RawConnection(edge_server.url)
    try:
        conn.send(request_head("GET", "/healthcheck", "Accept: text/plain"))
        conn.sock.shutdown(socket.SHUT_WR)
        response = conn.response()
        assert response.status == 200 and response.body == b"OK"
    finally:
        conn.close()


def test_an_upload_whose_client_half_closes_midway_leaves_the_image_queued(edge_server: Server, api: Api) -> None:
    image_id = api.create(name="half")["id"]
    conn = RawConnection(edge_server.url)
    try:
        conn.send(upload_head(api, image_id, "Content-Length: 100000") + b"h" * 1000)
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.closed_by_server()
    finally:
        conn.close()
    assert settles_queued(api, image_id)


@pytest.mark.parametrize("line", [
    b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /healthcheck HTTP/1.1\r\nHost glimpse\r\n\r\n",
    b"GET /healthcheck HTTP/1.1\r\nHo st: glimpse\r\n\r\n",
], ids=["binary", "version", "no-colon", "space-in-name"])
def test_a_garbled_head_is_answered_400(edge_server: Server, line: bytes) -> None:
    conn = RawConnection(edge_server.url)
    try:
        conn.send(line)
        assert conn.response().status == 400
    finally:
        conn.close()


def test_after_all_of_this_the_server_serves_and_logged_no_server_error(edge_server: Server, api: Api) -> None:
    image_id = api.create(name="after")["id"]
    assert api.upload(image_id, b"fine").status_code == 204
    assert httpx.get(f"{edge_server.url}/healthcheck", timeout=5).status_code == 200
    log = edge_server.log.read_text()
    assert "Exception in ASGI application" not in log and "unexpected error" not in log
    assert "Task exception was never retrieved" not in log
