"""``/healthcheck`` tells the truth: a full store, an unreachable identity service or broker make it 503,
the public answer names no part, and the detail view says which part and why (with no host or port)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, free_port, start_server

MiB = 1 << 20


def health(server: Server, status: int, *, detail: bool = False) -> httpx.Response:
    """The health answer once it has the ``status`` expected (results are reused for a second,
    glimpse.services.health.TTL); the last answer if it does not come to that within 20 seconds (a busy
    machine)."""
    deadline = time.monotonic() + 20
    while True:
        response = httpx.get(f"{server.url}/healthcheck{'?detail' if detail else ''}", timeout=10,
                             headers={"Accept": "application/json"})
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mount = tmp_path_factory.mktemp("small-disk")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a 16 MiB tmpfs for the full-disk test (needs root): {result.stderr.decode()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def disk_node(small_disk: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    stores = {"file": {"driver": "filesystem", "path": str(small_disk / "images")}}
    server = start_server(tmp_path_factory.mktemp("disk-node"), workers=1, env={
        "GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_HEALTH_MIN_FREE_BYTES": str(8 * MiB)})
    yield server
    server.stop()


def test_a_store_with_less_free_space_than_required_makes_the_node_unhealthy(disk_node: Server,
                                                                            small_disk: Path) -> None:
    assert health(disk_node, 200).status_code == 200
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (12 * MiB))
    try:
        public = health(disk_node, 503)
        assert public.status_code == 503 and public.json() == {"status": "unhealthy"}
        assert public.headers["retry-after"].isdigit()
        store = health(disk_node, 503, detail=True).json()["checks"]["store:file"]
        assert store["ok"] is False and "MiB free, below the 8 MiB required" in store["detail"]
    finally:
        filler.unlink()
    assert health(disk_node, 200).status_code == 200


class Listener:
    """A TCP port that accepts connections while open: the broker's reachability, as the probe sees it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.open()

    def open(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", self.port), backlog=64)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def stand_in_keystone(port: int) -> subprocess.Popen[bytes]:
    """An HTTP server where Keystone would be: the health probe only asks whether it answers."""
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the stand-in identity server did not start")


@pytest.fixture(scope="module")
def parts() -> Iterator[dict[str, Any]]:
    broker = Listener(free_port())
    keystone_port = free_port()
    keystone = stand_in_keystone(keystone_port)
    state: dict[str, Any] = {"broker": broker, "keystone_port": keystone_port, "keystone": keystone}
    yield state
    broker.close()
    state["keystone"].kill()
    state["keystone"].wait()


@pytest.fixture(scope="module")
def connected_node(parts: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("connected-node"), workers=1, env={
        "GLIMPSE_AUTH_STRATEGY": "keystone",
        "GLIMPSE_KEYSTONE_URL": f"http://127.0.0.1:{parts['keystone_port']}/v3",
        "GLIMPSE_KEYSTONE_USERNAME": "glimpse", "GLIMPSE_KEYSTONE_PASSWORD": "not-used-here",
        "GLIMPSE_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{parts['broker'].port}/",
    })
    yield server
    server.stop()


def test_an_unreachable_identity_service_makes_the_node_unhealthy(connected_node: Server,
                                                                 parts: dict[str, Any]) -> None:
    assert health(connected_node, 200).status_code == 200
    parts["keystone"].kill()
    parts["keystone"].wait()
    try:
        assert health(connected_node, 503).status_code == 503
        checks = health(connected_node, 503, detail=True).json()["checks"]
        assert checks["identity"] == {"ok": False, "detail": "unreachable"}
        assert checks["broker"]["ok"] and checks["database"]["ok"]
        assert str(parts["keystone_port"]) not in str(checks)
    finally:
        parts["keystone"] = stand_in_keystone(parts["keystone_port"])
    assert health(connected_node, 200).status_code == 200


def test_an_unreachable_broker_makes_the_node_unhealthy(connected_node: Server, parts: dict[str, Any]) -> None:
    assert health(connected_node, 200).status_code == 200
    parts["broker"].close()
    try:
        response = health(connected_node, 503, detail=True)
        assert response.status_code == 503
        assert response.json()["checks"]["broker"] == {"ok": False, "detail": "unreachable"}
        assert health(connected_node, 503).text == '{"status":"unhealthy"}'
    finally:
        parts["broker"].open()
    assert health(connected_node, 200).status_code == 200


def test_the_public_health_answer_names_no_part(connected_node: Server) -> None:
    response = httpx.get(f"{connected_node.url}/healthcheck", timeout=10)
    assert response.status_code == 200 and response.text == "OK"
    assert httpx.get(f"{connected_node.url}/healthcheck", headers={"Accept": "application/json"},
                     timeout=10).json() == {"status": "ok"}


def test_the_detail_view_is_refused_to_callers_relayed_by_a_proxy(connected_node: Server) -> None:
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
        response = httpx.get(f"{connected_node.url}/healthcheck?detail", timeout=10,
                             headers={"Accept": "application/json", **header})
        assert response.status_code == 403
        assert "only to callers on this node" in response.json()["message"]
        assert "checks" not in response.json()
