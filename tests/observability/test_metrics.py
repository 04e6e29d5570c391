"""``/metrics`` of a real two-worker node: what a workload moves, who may read it, dead workers."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from glimpse.observability.access import FLUSH_INTERVAL
from tests.conftest import Api, Server, start_server
from tests.observability.scrape import scrape, value

IMAGE = "/v2/images/{image_id}"
FILE = "/v2/images/{image_id}/file"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("metrics"), workers=2,
                          env={"GLIMPSE_METRICS_CACHE_SECONDS": "0"})
    yield server
    server.stop()


def test_a_workload_moves_the_counters_by_what_it_did(node: Server) -> None:
    before = scrape(node.url)
    api = Api(node.url, uuid.uuid4().hex)
    data = os.urandom(300_000)
    ids = []
    for _ in range(3):
        image = api.create(name="m")
        assert api.upload(image["id"], data).status_code == 204
        ids.append(image["id"])
    for image_id in ids:
        for _ in range(4):  # the image-show fast path
            api.show(image_id)
        # fresh connections, so both workers serve some of them
        assert httpx.get(f"{node.url}/v2/images/{image_id}/file", headers={"X-Project-Id": api.project}
                         ).content == data
    assert api.http.get("/v2/images/" + str(uuid.uuid4())).status_code == 404
    assert api.http.get("/no/such/path/" + uuid.uuid4().hex).status_code in (300, 404)
    # each worker adds its requests to the shared figures within FLUSH_INTERVAL (and before its own scrapes)
    time.sleep(FLUSH_INTERVAL + 0.5)
    after = scrape(node.url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("glimpse_http_requests_total", route="/v2/images", method="POST", status="201") == 3
    assert moved("glimpse_http_requests_total", route=FILE, method="PUT", status="204") == 3
    assert moved("glimpse_http_requests_total", route=FILE, method="GET", status="200") == 3
    assert moved("glimpse_http_requests_total", route=IMAGE, method="GET", status="200") == 12
    assert moved("glimpse_http_requests_total", route=IMAGE, method="GET", status="404") == 1
    assert moved("glimpse_http_received_bytes_total", route=FILE) == 3 * len(data)
    assert moved("glimpse_http_sent_bytes_total", route=FILE) == 3 * len(data)
    assert moved("glimpse_http_request_duration_seconds_count", route=IMAGE, method="GET") == 13
    assert moved("glimpse_store_operation_duration_seconds_count", store="file", operation="put") == 3
    assert moved("glimpse_store_operation_duration_seconds_count", store="file", operation="open") >= 0
    assert value(after, "glimpse_images", status="active") >= 3
    # raw paths never become labels
    assert not any(dict(labels).get("route", "").startswith("/no/") for _, labels in after)
    assert all(ids[0] not in dict(labels).get("route", "") for _, labels in after)


def test_a_slow_upload_is_in_flight_until_it_ends(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image = api.create(name="slow")
    release = threading.Event()

    def body() -> Iterator[bytes]:
        yield b"x" * 1000
        release.wait(30)
        yield b"y" * 1000

    outcome: list[int] = []
    upload = threading.Thread(target=lambda: outcome.append(httpx.put(
        f"{node.url}/v2/images/{image['id']}/file", content=body(),
        headers={"X-Project-Id": api.project, "Content-Type": "application/octet-stream"}, timeout=60
    ).status_code))
    upload.start()
    try:
        deadline = time.monotonic() + 10
        while value(scrape(node.url), "glimpse_transfers_in_flight", direction="upload") < 1:
            assert time.monotonic() < deadline, "the upload never showed as in flight"
            time.sleep(0.05)
    finally:
        release.set()
        upload.join()
    assert outcome == [204]
    assert value(scrape(node.url), "glimpse_transfers_in_flight", direction="upload") == 0


def test_a_killed_worker_stops_counting_in_flight(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=1)
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create(name="stalled")

        def body() -> Iterator[bytes]:
            yield b"x" * 1000
            time.sleep(30)
            yield b""

        threading.Thread(target=lambda: _ignore(lambda: httpx.put(
            f"{server.url}/v2/images/{image['id']}/file", content=body(),
            headers={"X-Project-Id": api.project, "Content-Type": "application/octet-stream"}, timeout=40)),
            daemon=True).start()
        deadline = time.monotonic() + 10
        while value(scrape(server.url), "glimpse_transfers_in_flight", direction="upload") < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [worker] = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:  # the arbiter starts a new worker; the dead one's gauge is gone
            try:
                if value(scrape(server.url), "glimpse_transfers_in_flight", direction="upload") == 0:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the dead worker's upload still counts"
            time.sleep(0.1)
    finally:
        server.stop()


def _ignore(call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except httpx.HTTPError:
        pass


def test_only_admins_may_read_metrics_from_elsewhere_when_access_is_admin(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"GLIMPSE_METRICS_ACCESS": "admin"})
    try:
        refused = httpx.get(f"{server.url}/metrics", headers={"X-Project-Id": "p", "Accept": "application/json"})
        assert refused.status_code == 403
        assert "administrators" in refused.text
        assert "glimpse_http_requests_total" in scrape(server.url, **{"X-Roles": "admin", "X-Project-Id": "p"}
                                                       ).__repr__()
    finally:
        server.stop()


def test_metrics_can_be_switched_off(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"GLIMPSE_METRICS_ACCESS": "off"})
    try:
        assert httpx.get(f"{server.url}/metrics").status_code == 404
    finally:
        server.stop()


def test_the_metrics_directory_is_emptied_at_start(tmp_path: Path) -> None:
    stale = tmp_path / "metrics-dir"
    stale.mkdir()
    (stale / "counter_999999.db").write_bytes(b"left over by a previous run")
    server = start_server(tmp_path / "data", env={"GLIMPSE_METRICS_DIR": str(stale)})
    try:
        assert not (stale / "counter_999999.db").exists()
        scrape(server.url)
    finally:
        server.stop()


def test_the_private_histogram_parts_the_flush_adds_to_still_exist() -> None:
    # glimpse.observability.metrics.Metrics.flush adds sums and bucket counts to a histogram child directly.
    from prometheus_client import CollectorRegistry, Histogram

    child = Histogram("contract", "contract", ["x"], buckets=(1.0, float("inf")),
                      registry=CollectorRegistry()).labels("y")
    child._sum.inc(2.5)
    child._buckets[0].inc(3)
    samples = {s.name: s.value for s in child._samples()}  # type: ignore[attr-defined]
    assert samples["_sum"] == 2.5 and samples["_count"] == 3
