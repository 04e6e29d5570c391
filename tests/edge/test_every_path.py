"""The head limits and the body pace hold on every server path: TLS connections (uvicorn's plain
request cycle under the worker's protocol) and uvicorn's own httptools protocol without Glimpse's
fast paths (what a node runs with them switched off)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_serving import pki, trusting  # noqa: F401  (the fixture, reused)
from tests.conftest import Server, free_port, start_server
from tests.support.raw_http import RawConnection, request_head

PLAIN_SERVER = """
import sys
import uvicorn
from glimpse.composition import http_app
from glimpse.server.body_pace import BodyPace
from glimpse.server.limits import HeadLimits, LimitedHttpToolsProtocol, with_limits
from glimpse.settings import Settings

settings = Settings(data_dir=sys.argv[2], body_idle_timeout=2)
protocol = with_limits(LimitedHttpToolsProtocol, HeadLimits.from_settings(settings), BodyPace.from_settings(settings))
uvicorn.run(http_app(settings), host="127.0.0.1", port=int(sys.argv[1]), http=protocol, log_level="warning")
"""


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("plain-uvicorn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    process = subprocess.Popen([sys.executable, "-c", PLAIN_SERVER, str(port), str(data_dir)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthcheck", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the plain uvicorn server did not start"
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=15)


@pytest.fixture(scope="module")
def tls_node(pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    server = start_server(tmp_path_factory.mktemp("tls-edge"), workers=1, scheme="https", verify=trusting(pki),
                          args=["--cert", str(pki["server_cert"]), "--key", str(pki["server_key"])])
    yield server
    server.stop()


def test_plain_uvicorn_answers_an_oversized_header_431(plain_server: str) -> None:
    conn = RawConnection(plain_server)
    try:
        conn.send(request_head("GET", "/healthcheck", "X-Big: " + "a" * 70_000))
        assert conn.response().status == 431
    finally:
        conn.close()


def test_plain_uvicorn_cuts_off_a_stalled_chunked_upload(plain_server: str) -> None:
    project = uuid.uuid4().hex
    image_id = httpx.post(f"{plain_server}/v2/images", json={"disk_format": "raw", "container_format": "bare"},
                          headers={"X-Project-Id": project}).json()["id"]
    conn = RawConnection(plain_server)
    try:
        conn.send(request_head("PUT", f"/v2/images/{image_id}/file", f"X-Project-Id: {project}",
                               "Content-Type: application/octet-stream", "Content-Length: 100000") + b"x" * 10)
        response = conn.response()  # sized, but no socket fast path here: the ASGI receive() path
        assert response.status == 408 and response.headers["connection"] == "close"
    finally:
        conn.close()


def test_tls_connections_answer_an_oversized_header_431(tls_node: Server, pki: dict[str, Path]) -> None:  # noqa: F811
    context = trusting(pki)
    port = int(tls_node.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            try:
                conn.sendall(request_head("GET", "/healthcheck", *(f"X-F{i}: 1" for i in range(150))))
            except (ssl.SSLError, OSError):
                pass
            answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431 ")
