"""Several stores: choosing one on upload, copies, preferred reads, and deleting one copy."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from glanceclient import Client

from tests.conftest import Api, Server, start_server

EXTENSIONS = '["image-import"]'


@pytest.fixture(scope="module")
def stores_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stores")


@pytest.fixture(scope="module")
def multi(stores_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    stores = {"fast": {"driver": "filesystem", "path": str(stores_root / "fast"), "description": "SSD"},
              "cold": {"driver": "filesystem", "path": str(stores_root / "cold")}}
    server = start_server(tmp_path_factory.mktemp("multi"), env={
        "GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_DEFAULT_STORE": "fast", "GLIMPSE_EXTENSIONS": EXTENSIONS})
    yield server
    server.stop()


@pytest.fixture
def api(multi: Server) -> Iterator[Api]:
    client = Api(multi.url, uuid.uuid4().hex)
    yield client
    client.close()


def test_stores_are_announced(api: Api) -> None:
    created = api.http.post("/v2/images", json={"name": "x"})
    assert created.headers["openstack-image-store-ids"] == "fast,cold"
    assert api.http.get("/v2/info/stores").json()["stores"] == [
        {"id": "fast", "description": "SSD", "default": "true"}, {"id": "cold"}]
    versions = api.http.get("/versions").json()["versions"]
    assert {"v2.10", "v2.12"} <= {v["id"] for v in versions}
    assert next(v for v in versions if v["status"] == "CURRENT")["id"] == "v2.17"


def test_upload_to_a_chosen_store(api: Api, stores_root: Path) -> None:
    image = api.create()
    assert api.upload(image["id"], b"cold data", **{"X-Image-Meta-Store": "cold"}).status_code == 204
    assert (stores_root / "cold" / image["id"]).read_bytes() == b"cold data"
    assert not (stores_root / "fast" / image["id"]).exists()
    assert api.show(image["id"])["stores"] == "cold"
    default = api.create()
    api.upload(default["id"], b"fast data")
    assert api.show(default["id"])["stores"] == "fast"
    assert "stores" not in api.create()


def test_unknown_store_is_400_and_changes_nothing(api: Api) -> None:
    image = api.create()
    response = api.upload(image["id"], b"x", **{"X-Image-Meta-Store": "tape"})
    assert response.status_code == 400 and "tape" in response.json()["message"]
    assert api.show(image["id"])["status"] == "queued"


def copied(api: Api) -> str:
    image = api.create()
    assert api.http.put(f"/v2/images/{image['id']}/stage", content=b"everywhere",
                        headers={"Content-Type": "application/octet-stream"}).status_code == 204
    assert api.http.post(f"/v2/images/{image['id']}/import",
                         json={"method": {"name": "glance-direct"}, "all_stores": True}).status_code == 202
    deadline = time.monotonic() + 30
    while api.show(image["id"])["status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return str(image["id"])


def test_reads_prefer_a_store_and_fall_back(api: Api, stores_root: Path) -> None:
    image_id = copied(api)
    assert api.show(image_id)["stores"] == "fast,cold"
    (stores_root / "cold" / image_id).write_bytes(b"COLD COPY!")  # same length, tell the copies apart
    assert api.http.get(f"/v2/images/{image_id}/file", params={"prefer": "cold,fast"}).content == b"COLD COPY!"
    assert api.http.get(f"/v2/images/{image_id}/file").content == b"everywhere"
    (stores_root / "fast" / image_id).unlink()
    assert api.http.get(f"/v2/images/{image_id}/file").content == b"COLD COPY!"
    response = api.http.get(f"/v2/images/{image_id}/file", params={"prefer": "tape"})
    assert response.status_code == 400


def test_delete_one_copy(api: Api, multi: Server, stores_root: Path) -> None:
    image_id = copied(api)
    admin = Api(multi.url, api.project, roles="admin,member,reader")
    assert api.http.delete(f"/v2/stores/cold/{image_id}").status_code == 403
    assert admin.http.delete(f"/v2/stores/tape/{image_id}").status_code == 409
    assert admin.http.delete(f"/v2/stores/cold/{image_id}").status_code == 204
    assert not (stores_root / "cold" / image_id).exists()
    assert api.show(image_id)["stores"] == "fast"
    assert admin.http.delete(f"/v2/stores/cold/{image_id}").status_code == 404
    last = admin.http.delete(f"/v2/stores/fast/{image_id}")
    assert last.status_code == 403 and "only copy" in last.json()["message"]
    assert api.http.get(f"/v2/images/{image_id}/file").content == b"everywhere"


def test_glanceclient_uses_stores_and_image_tasks(multi: Server, stores_root: Path) -> None:
    project = uuid.uuid4().hex
    glance = Client("2", endpoint=multi.url, token="x", identity_headers={"X-Project-Id": project})
    assert {s["id"] for s in glance.images.get_stores_info()["stores"]} == {"fast", "cold"}
    image = glance.images.create(name="gc-store", disk_format="raw", container_format="bare")
    glance.images.upload(image["id"], io.BytesIO(b"to the cold store"), backend="cold")
    assert (stores_root / "cold" / image["id"]).read_bytes() == b"to the cold store"
    assert glance.images.get(image["id"])["stores"] == "cold"
    assert glance.images.get_associated_image_tasks(image["id"])["tasks"] == []


def test_a_single_store_site_has_no_store_deletes(server: Server) -> None:
    api = Api(server.url)
    image = api.create()
    api.upload(image["id"], b"x")
    assert api.http.delete(f"/v2/stores/file/{image['id']}").status_code == 404
    assert api.http.get(f"/v2/images/{image['id']}/file", params={"prefer": "file"}).status_code == 400
    assert "stores" not in api.show(image["id"])
