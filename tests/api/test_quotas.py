"""Per-project quotas: enforced atomically under concurrency, reported by /v2/info/usage."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from glimpse.composition import open_services
from glimpse.services import Services
from glimpse.settings import Settings
from tests.conftest import Api, Server, start_server

MiB = 1024 * 1024


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    built = open_services(Settings(data_dir=tmp_path, database_url=database_url))
    yield built
    built.close()


def parallel(count: int, work) -> list[int]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(count)

    def run(i: int) -> int:
        barrier.wait()
        return int(work(i))

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.parametrize("round_", range(3))
def test_parallel_uploads_never_overshoot_the_storage_quota(server: Server, services: Services, round_: int) -> None:
    api = Api(server.url, uuid.uuid4().hex)
    services.quotas.set_limit(api.project, "image_size_total", 10)
    ids = [api.create()["id"] for _ in range(20)]

    def upload(i: int) -> int:
        with httpx.Client(base_url=server.url, headers={"X-Project-Id": api.project, "Accept": "application/json"},
                          timeout=120) as client:
            response = client.put(f"/v2/images/{ids[i]}/file", content=bytes([i]) * MiB,
                                  headers={"Content-Type": "application/octet-stream"})
            if response.status_code == 413:
                assert "image_size_total" in response.json()["message"]
            return response.status_code

    codes = parallel(20, upload)
    assert sorted(set(codes)) == [204, 413]
    assert codes.count(204) == 10
    images = [api.show(image_id) for image_id in ids]
    stored = sum(image["size"] or 0 for image in images if image["status"] == "active")
    assert stored == 10 * MiB
    assert all(image["status"] in ("active", "queued") for image in images)
    usage = api.http.get("/v2/info/usage").json()["usage"]["image_size_total"]
    assert usage == {"limit": 10, "usage": 10}


def test_parallel_creates_never_overshoot_the_image_count(server: Server, services: Services) -> None:
    api = Api(server.url, uuid.uuid4().hex)
    services.quotas.set_limit(api.project, "image_count_total", 5)

    def create(_i: int) -> int:
        with httpx.Client(base_url=server.url, headers={"X-Project-Id": api.project}, timeout=60) as client:
            return client.post("/v2/images", json={"name": "q"}).status_code

    codes = parallel(20, create)
    assert codes.count(201) == 5 and codes.count(413) == 15
    assert api.http.get("/v2/info/usage").json()["usage"]["image_count_total"] == {"limit": 5, "usage": 5}


def test_an_upload_larger_than_the_quota_fails_while_streaming(server: Server, services: Services) -> None:
    api = Api(server.url, uuid.uuid4().hex)
    services.quotas.set_limit(api.project, "image_size_total", 1)
    image = api.create()
    response = api.http.put(f"/v2/images/{image['id']}/file", content=iter([b"x" * MiB, b"y" * MiB]),
                            headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 413
    assert "image_size_total" in response.json()["message"]
    assert api.show(image["id"])["status"] == "queued"
    declared = api.upload(image["id"], b"z", **{"x-openstack-image-size": str(2 * MiB)})
    assert declared.status_code == 413
    assert api.upload(image["id"], b"z" * 1000).status_code == 204


def test_concurrent_upload_limit(server: Server, services: Services) -> None:
    api = Api(server.url, uuid.uuid4().hex)
    services.quotas.set_limit(api.project, "image_count_uploading", 1)
    first, second = api.create()["id"], api.create()["id"]
    release = threading.Event()

    def slow() -> Iterator[bytes]:
        yield b"a" * 1000
        release.wait(30)
        yield b"b"

    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.setdefault("first", Api(server.url, api.project).http.put(
        f"/v2/images/{first}/file", content=slow(), headers={"Content-Type": "application/octet-stream"}
    ).status_code))
    thread.start()
    deadline = time.monotonic() + 20
    while api.show(first)["status"] != "saving":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    blocked = api.upload(second, b"c")
    release.set()
    thread.join(30)
    assert blocked.status_code == 413 and "image_count_uploading" in blocked.json()["message"]
    assert api.show(second)["status"] == "queued"
    assert result["first"] == 204
    assert api.upload(second, b"c").status_code == 204


def test_deleting_frees_quota(server: Server, services: Services) -> None:
    api = Api(server.url, uuid.uuid4().hex)
    services.quotas.set_limit(api.project, "image_count_total", 1)
    image = api.create()
    assert api.http.post("/v2/images", json={}).status_code == 413
    api.http.delete(f"/v2/images/{image['id']}")
    assert api.http.post("/v2/images", json={}).status_code == 201


def test_defaults_from_settings_and_overrides_from_glimpse_manage(tmp_path: Path) -> None:
    server = start_server(tmp_path / "q", env={"GLIMPSE_QUOTA_IMAGE_COUNT_TOTAL": "2"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        api.create()
        api.create()
        assert api.http.post("/v2/images", json={}).status_code == 413
        manage = [sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(tmp_path / "q")]
        result = subprocess.run([*manage, "quota", "set", "--project", api.project, "--resource",
                                 "image_count_total", "--limit", "3"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert api.http.post("/v2/images", json={}).status_code == 201
        shown = subprocess.run([*manage, "quota", "show", "--project", api.project], capture_output=True, text=True,
                               timeout=60)
        assert '"limit": 3' in shown.stdout and '"usage": 3' in shown.stdout
        other = Api(server.url, uuid.uuid4().hex)
        assert other.http.get("/v2/info/usage").json()["usage"]["image_count_total"] == {"limit": 2, "usage": 0}
    finally:
        server.stop()


def test_unowned_images_are_not_charged(admin: Api, services: Services) -> None:
    image = admin.create()
    assert admin.upload(image["id"], b"free").status_code == 204


def test_location_quota_per_image(tmp_path: Path) -> None:
    server = start_server(tmp_path / "locations", env={"GLIMPSE_IMAGE_LOCATION_QUOTA": "0"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create()
        response = api.upload(image["id"], b"no room for a location")
        assert response.status_code == 413 and "locations per image" in response.json()["message"]
        assert api.show(image["id"])["status"] == "queued"
        assert list((tmp_path / "locations" / "images").iterdir()) == []
    finally:
        server.stop()
