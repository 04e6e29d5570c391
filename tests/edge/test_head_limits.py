"""Request lines and headers are limited as they arrive: 414, 431 and 408, never a worker held."""

from __future__ import annotations

import time

import httpx

from tests.conftest import Server
from tests.support.raw_http import RawConnection, request_head


def answer_to(server: Server, data: bytes) -> tuple[int, dict[str, str], bytes]:
    conn = RawConnection(server.url)
    try:
        conn.send(data)
        response = conn.response()
        return response.status, response.headers, response.body
    finally:
        conn.close()


def test_a_request_target_over_8_kib_is_answered_414_and_the_connection_closed(edge_server: Server) -> None:
    status, headers, body = answer_to(edge_server, request_head("GET", "/v2/images?name=" + "a" * 9000))
    assert status == 414
    assert headers["connection"] == "close"
    assert b"8192 bytes" in body


def test_one_header_over_64_kib_is_answered_431(edge_server: Server) -> None:
    status, headers, body = answer_to(edge_server, request_head("GET", "/healthcheck", "X-Big: " + "b" * 70_000))
    assert status == 431 and headers["connection"] == "close"
    assert b"65536" in body


def test_headers_over_64_kib_in_total_are_answered_431(edge_server: Server) -> None:
    lines = [f"X-Part-{i}: {'c' * 900}" for i in range(80)]  # 80 fields of about 910 bytes: 72 KiB
    status, _, body = answer_to(edge_server, request_head("GET", "/healthcheck", *lines))
    assert status == 431
    assert b"header fields" in body


def test_more_than_100_header_fields_are_answered_431(edge_server: Server) -> None:
    status, _, body = answer_to(edge_server, request_head("GET", "/healthcheck", *(f"X-F{i}: 1" for i in range(101))))
    assert status == 431
    assert b"more than 100 header fields" in body


def test_a_head_just_within_the_limits_is_served(edge_server: Server) -> None:
    lines = [f"X-Part-{i}: {'d' * 500}" for i in range(95)]  # 95 fields, about 48 KiB
    status, _, _ = answer_to(edge_server, request_head("GET", "/healthcheck?" + "q" * 8000, *lines))
    assert status == 200


def test_a_300_mib_header_is_cut_off_within_a_few_mib_and_the_server_stays_responsive(edge_server: Server) -> None:
    conn = RawConnection(edge_server.url, timeout=10)
    sent = 0
    block = b"e" * (1 << 20)
    try:
        conn.send(b"GET /healthcheck HTTP/1.1\r\nHost: glimpse\r\nX-Huge: ")
        while sent < 300 << 20:
            conn.send(block)
            sent += len(block)
    except OSError:
        pass  # the server closed the connection: what was still on its way is refused
    finally:
        conn.close()
    assert sent < 32 << 20, f"the server took {sent >> 20} MiB of one header"
    started = time.monotonic()
    assert httpx.get(f"{edge_server.url}/healthcheck", timeout=5).status_code == 200
    assert time.monotonic() - started < 1


def test_a_head_trickled_byte_by_byte_is_answered_408_after_the_head_timeout(edge_server: Server) -> None:
    conn = RawConnection(edge_server.url, timeout=10)
    started = time.monotonic()
    try:
        conn.send(b"GET /healthcheck HTTP/1.1\r\nHost: glimpse\r\n")
        for _ in range(8):  # a slowloris: a byte of a header every half second, for longer than the timeout
            try:
                conn.send(b"X")
            except OSError:
                break
            time.sleep(0.5)
        response = conn.response()
    finally:
        conn.close()
    assert response.status == 408
    assert b"did not arrive within 2 seconds" in response.body
    assert 1.5 < time.monotonic() - started < 6


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(edge_server: Server) -> None:
    conn = RawConnection(edge_server.url)
    try:
        assert conn.closed_by_server(within=6)
    finally:
        conn.close()


def test_keep_alive_requests_each_get_their_own_limits(edge_server: Server) -> None:
    conn = RawConnection(edge_server.url)
    try:
        for _ in range(3):  # 3 heads of 40 KiB: over the limit together, within it one by one
            conn.send(request_head("GET", "/healthcheck", "X-Pad: " + "f" * 40_000))
            assert conn.response().status == 200
    finally:
        conn.close()
