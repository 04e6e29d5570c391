"""copy-image: copying an active image into more stores, as a task, with its digests checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from glanceclient import Client

from tests.conftest import Api, Server, start_server

STORES = ("fast", "cold", "far")


@pytest.fixture(scope="module")
def stores_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("copy-stores")


@pytest.fixture(scope="module")
def node(stores_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    stores = {name: {"driver": "filesystem", "path": str(stores_root / name)} for name in STORES}
    server = start_server(tmp_path_factory.mktemp("copy-node"), env={
        "GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_DEFAULT_STORE": "fast"})
    yield server
    server.stop()


@pytest.fixture
def api(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex)
    yield client
    client.close()


def active_image(api: Api, data: bytes) -> dict[str, Any]:
    image = api.create(disk_format="raw", container_format="bare")
    assert api.upload(image["id"], data).status_code == 204
    return api.show(image["id"])


def copy(api: Api, image_id: str, **body: Any) -> Any:
    return api.http.post(f"/v2/images/{image_id}/import", json={"method": {"name": "copy-image"}, **body})


def last_task(api: Api, image_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        listed = api.http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        if listed and listed[0]["status"] in ("success", "failure"):
            return dict(listed[0])
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)


def test_copy_image_is_offered_where_several_stores_take_data(api: Api) -> None:
    methods = api.http.get("/v2/info/import").json()["import-methods"]["value"]
    assert methods == ["glance-direct", "web-download", "copy-image"]


def test_copy_image_copies_an_active_image_into_another_store(api: Api, stores_root: Path) -> None:
    data = b"copy me " * 5000
    image = active_image(api, data)
    assert image["stores"] == "fast"
    response = copy(api, image["id"], stores=["cold"])
    assert response.status_code == 202, response.text
    task = last_task(api, image["id"])
    assert task["status"] == "success", task
    after = api.show(image["id"])
    assert after["status"] == "active" and after["stores"] == "fast,cold"
    assert "os_glance_importing_to_stores" not in after and "os_glance_failed_import" not in after
    assert "os_glance_import_task" not in after
    assert (stores_root / "cold" / image["id"]).read_bytes() == data
    assert after["os_hash_value"] == image["os_hash_value"] and after["checksum"] == image["checksum"]


def test_all_stores_copies_into_every_store_missing_the_image(api: Api, stores_root: Path) -> None:
    image = active_image(api, b"everywhere")
    assert copy(api, image["id"], all_stores=True).status_code == 202
    assert last_task(api, image["id"])["status"] == "success"
    assert api.show(image["id"])["stores"] == "fast,cold,far"
    assert all((stores_root / name / image["id"]).read_bytes() == b"everywhere" for name in STORES)
    again = copy(api, image["id"], all_stores=True)
    assert again.status_code == 409 and "already in every store" in again.json()["message"]


def test_a_store_that_holds_the_image_or_is_unknown_is_named(api: Api) -> None:
    image = active_image(api, b"held")
    held = copy(api, image["id"], stores=["fast"])
    assert held.status_code == 409 and "fast" in held.json()["message"]
    unknown = copy(api, image["id"], stores=["nowhere"])
    assert unknown.status_code == 409 and "nowhere" in unknown.json()["message"]
    missing = copy(api, image["id"])
    assert missing.status_code == 400 and "'stores'" in missing.json()["message"]
    assert api.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"] == []


def test_only_an_active_image_can_be_copied(api: Api) -> None:
    queued = api.create(disk_format="raw", container_format="bare")
    refused = copy(api, queued["id"], stores=["cold"])
    assert refused.status_code == 409 and "active" in refused.json()["message"]


def test_an_unknown_method_lists_the_enabled_ones(api: Api) -> None:
    image = active_image(api, b"x")
    refused = api.http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "teleport"}})
    assert refused.status_code == 400
    assert "glance-direct, web-download, copy-image" in refused.json()["message"]


def test_a_corrupted_source_fails_the_copy_and_leaves_the_image_active(api: Api, stores_root: Path) -> None:
    image = active_image(api, b"original data")
    (stores_root / "fast" / image["id"]).write_bytes(b"tampered data")  # same size, other digests
    assert copy(api, image["id"], stores=["cold"]).status_code == 202
    task = last_task(api, image["id"])
    assert task["status"] == "failure" and "'cold'" in task["message"], task
    after = api.show(image["id"])
    assert after["status"] == "active" and after["stores"] == "fast"
    assert after["os_glance_failed_import"] == "cold" and "os_glance_import_task" not in after
    assert not (stores_root / "cold" / image["id"]).exists()


def test_glanceclient_copies_an_image_with_image_import(api: Api, node: Server) -> None:
    image = active_image(api, b"glanceclient copy")
    glance = Client("2", endpoint=node.url, token="unused", identity_headers={"X-Project-Id": api.project})
    glance.images.image_import(image["id"], method="copy-image", stores=["far"])
    assert last_task(api, image["id"])["status"] == "success"
    assert api.show(image["id"])["stores"] == "fast,far"


def test_the_glance_command_copies_an_image(api: Api, node: Server) -> None:
    """``glance image-import --import-method copy-image --stores``: the glanceclient command line."""
    image = active_image(api, b"glance cli copy")
    glance = subprocess.run(
        [str(Path(sys.executable).parent / "glance"), "--os-image-url", node.url, "--os-auth-token", "unused",
         "image-import", "--import-method", "copy-image", "--stores", "cold", image["id"]],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("OS_")})
    assert glance.returncode == 0, glance.stderr
    assert last_task(api, image["id"])["status"] == "success"
    assert api.show(image["id"])["stores"] == "fast,cold"
    assert api.http.get(f"/v2/images/{image['id']}/file").content == b"glance cli copy"
