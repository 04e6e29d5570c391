"""Hundreds of stalled uploads: bounded per worker (503) and per project (429), cut off when idle (408),
while health checks and metadata reads keep answering quickly; the node serves on afterwards."""

from __future__ import annotations

import select
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api, Server, start_server
from tests.support.raw_http import RawConnection, request_head, timed

#: Its health and metadata timings are measured on the cores it shares with the test run.
pytestmark = pytest.mark.alone

UPLOADS = 300
PROJECTS = 30
PER_WORKER = 32
PER_PROJECT = 4
IDLE = 6


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("slow-clients"), workers=2, env={
        "GLIMPSE_MAX_UPLOADS_PER_WORKER": str(PER_WORKER),
        "GLIMPSE_MAX_UPLOADS_PER_PROJECT": str(PER_PROJECT),
        "GLIMPSE_BODY_IDLE_TIMEOUT": str(IDLE),
    })
    yield server
    server.stop()


def test_300_stalled_uploads_leave_health_and_metadata_responsive_and_are_cut_off(busy_server: Server) -> None:
    projects = [uuid.uuid4().hex for _ in range(PROJECTS)]
    apis = [Api(busy_server.url, project) for project in projects]
    images = [(api, api.create(name=f"stalled-{i}")["id"]) for api in apis for i in range(UPLOADS // PROJECTS)]
    connections: list[RawConnection] = []
    try:
        for n, (api, image_id) in enumerate(images):  # a project's uploads one after another
            conn = RawConnection(busy_server.url, timeout=30)
            framing = f"Content-Length: {1 << 20}" if n % 2 else "Transfer-Encoding: chunked"
            conn.send(request_head("PUT", f"/v2/images/{image_id}/file", f"X-Project-Id: {api.project}",
                                   "Content-Type: application/octet-stream", framing))
            conn.send(b"u" * 100 if n % 2 else b"64\r\n" + b"u" * 100 + b"\r\n")
            connections.append(conn)
        started = time.monotonic()
        probe, shown = apis[0], images[0][1]
        health = [timed(lambda: httpx.get(f"{busy_server.url}/healthcheck", timeout=5).raise_for_status())
                  for _ in range(20)]
        metadata = [timed(lambda: probe.show(shown)) for _ in range(20)]
        assert time.monotonic() - started < IDLE - 1, "the measurement outlasted the stall"
        assert max(health) < 1 and max(metadata) < 1, (health, metadata)

        statuses: Counter[int] = Counter()
        for conn in connections:
            response = conn.response()
            statuses[response.status] += 1
            if response.status in (429, 503):
                assert response.headers["retry-after"].isdigit()
        assert set(statuses) <= {408, 429, 503}, statuses
        assert statuses[429] and statuses[503], statuses
        assert statuses[408] <= 2 * PER_WORKER, statuses
    finally:  # on a failure too: the next test needs the project and worker slots back
        for conn in connections:
            conn.close()
    assert all(api.show(image_id)["status"] == "queued" for api, image_id in images)
    store = Path(busy_server.data_dir) / "images"
    assert not list(store.iterdir())
    fresh = apis[1].create(name="after")["id"]
    assert apis[1].upload(fresh, b"still serving").status_code == 204
    assert apis[1].http.get(f"/v2/images/{fresh}/file").content == b"still serving"
    print(f"\n{UPLOADS} stalled uploads: {dict(statuses)}; health p50 {statistics.median(health) * 1000:.1f} ms "
          f"max {max(health) * 1000:.1f} ms; show p50 {statistics.median(metadata) * 1000:.1f} ms "
          f"max {max(metadata) * 1000:.1f} ms")
    for api in apis:
        api.close()


def test_refused_uploads_leave_nothing_behind_and_can_be_retried(busy_server: Server) -> None:
    api = Api(busy_server.url, uuid.uuid4().hex)
    image_id = api.create(name="retry")["id"]
    holders = []
    try:
        for _ in range(2 * PER_PROJECT + 2):  # more than the project may run on both workers
            other = api.create(name="holder")["id"]
            conn = RawConnection(busy_server.url)
            conn.send(request_head("PUT", f"/v2/images/{other}/file", f"X-Project-Id: {api.project}",
                                   "Content-Type: application/octet-stream", "Content-Length: 1000"))
            holders.append(conn)
        time.sleep(1)  # refusals come at once; the admitted uploads wait for a body (cut off after IDLE s)
        readable = set(select.select([conn.sock for conn in holders], [], [], 0)[0])
        refused = [conn for conn in holders if conn.sock in readable]
        statuses = [conn.response().status for conn in refused]
        assert statuses and set(statuses) == {429}, statuses
    finally:
        for conn in holders:
            conn.close()
    deadline = time.monotonic() + 10
    while api.upload(image_id, b"retried").status_code != 204:  # the held slots free as their clients go
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert api.show(image_id)["status"] == "active"
    api.close()
