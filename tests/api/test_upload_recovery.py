"""A worker killed mid-upload releases its image within seconds, on any node, exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_server

LEASE_SECONDS = 2


@pytest.fixture(scope="module")
def leased(database_url: str, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp(f"leased-{backend}"), database_url=database_url, workers=2,
                       env={"GLIMPSE_UPLOAD_LEASE_SECONDS": str(LEASE_SECONDS)})
    yield srv
    srv.stop()


def _established_on(pid: int, port: int) -> bool:
    """Does process ``pid`` hold an established TCP connection on local ``port``? (from /proc, no psutil)"""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except FileNotFoundError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                return True
    return False


def status_of(server: Server, image_id: str, project: str) -> str:
    # A fresh connection each time, so the only lasting connection to the node is the upload's.
    response = httpx.get(f"{server.url}/v2/images/{image_id}", headers={"X-Project-Id": project})
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def test_a_killed_worker_releases_its_upload_within_seconds(backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "mariadb":
        pytest.skip("SQLite and PostgreSQL cover the lease SQL; kept short for the suite's time")
    leased: Server = request.getfixturevalue("leased")
    project = "recovery"
    headers = {"X-Project-Id": project}
    created = httpx.post(f"{leased.url}/v2/images", headers=headers,
                         json={"name": "slow", "disk_format": "raw", "container_format": "bare"})
    image_id = created.json()["id"]
    stop = threading.Event()

    def slowly() -> Iterator[bytes]:
        for _ in range(600):
            if stop.is_set():
                return
            yield b"x" * 65536
            time.sleep(0.1)

    def upload() -> None:
        try:
            httpx.put(f"{leased.url}/v2/images/{image_id}/file", content=slowly(), timeout=120,
                      headers={**headers, "Content-Type": "application/octet-stream"})
        except httpx.HTTPError:
            pass  # the worker dies under it

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        deadline = time.monotonic() + 20
        while status_of(leased, image_id, project) != "saving":
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.1)
        port = int(leased.url.rsplit(":", 1)[1])
        holders = [pid for pid in leased.worker_pids() if _established_on(pid, port)]
        assert len(holders) == 1, holders
        os.kill(holders[0], signal.SIGKILL)
        killed = time.monotonic()
        while status_of(leased, image_id, project) != "queued":
            assert time.monotonic() - killed < 20, "the image stayed 'saving'"
            time.sleep(0.25)
        released_after = time.monotonic() - killed
    finally:
        stop.set()
        uploader.join()
    print(f"released {released_after:.1f} s after the kill")
    assert released_after < 20
    response = httpx.put(f"{leased.url}/v2/images/{image_id}/file", content=b"complete data", timeout=60,
                         headers={**headers, "Content-Type": "application/octet-stream"})
    assert response.status_code == 204, response.text
    assert status_of(leased, image_id, project) == "active"
    time.sleep(LEASE_SECONDS + 1)  # a sweep after the new upload must leave its data alone
    data = httpx.get(f"{leased.url}/v2/images/{image_id}/file", headers=headers)
    assert data.content == b"complete data"


def test_a_live_slow_upload_keeps_its_lease(backend: str, request: pytest.FixtureRequest) -> None:
    if backend != "sqlite":
        pytest.skip("renewal is the same SQL on every backend; the kill test covers them")
    leased: Server = request.getfixturevalue("leased")
    project = "recovery-live"
    headers = {"X-Project-Id": project}
    image_id = httpx.post(f"{leased.url}/v2/images", headers=headers,
                          json={"disk_format": "raw", "container_format": "bare"}).json()["id"]

    def slowly() -> Iterator[bytes]:
        for _ in range(LEASE_SECONDS * 3):  # pauses longer than the lease in total
            yield b"y" * 1024
            time.sleep(1)

    response = httpx.put(f"{leased.url}/v2/images/{image_id}/file", content=slowly(), timeout=60,
                         headers={**headers, "Content-Type": "application/octet-stream"})
    assert response.status_code == 204, response.text
    assert status_of(leased, image_id, project) == "active"
