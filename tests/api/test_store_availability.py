"""Several stores on one node: read-only stores, a store that is down, and what operators see of each."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Server, start_server
from tests.support import vault_store

SECRET = "s3cr3t-Value-never-shown"


def store_config(root: Path, *, archive_read_only: bool) -> dict[str, Any]:
    return {
        "fast": {"driver": "filesystem", "path": str(root / "fast"), "description": "SSD"},
        "cold": {"driver": "filesystem", "path": str(root / "cold")},
        "archive": {"driver": "filesystem", "path": str(root / "archive"), "read_only": archive_read_only},
        "vault": {"driver": "vault", "path": str(root / "vault"), "endpoint": f"https://keeper:{SECRET}@vault.test",
                  "access_key": "AKIA-visible-to-nobody", "secret_key": SECRET, "region": "south"},
    }


def node_env(root: Path, site: Path, *, archive_read_only: bool) -> dict[str, str]:
    return {"GLIMPSE_STORES": json.dumps(store_config(root, archive_read_only=archive_read_only)),
            "GLIMPSE_DEFAULT_STORE": "fast", "GLIMPSE_EXTENSIONS": '["image-import"]',
            "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("availability-stores")


@pytest.fixture(scope="module")
def archived(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """A node whose ``archive`` store is read-only, holding one image written while it was still writable."""
    site = vault_store.install(tmp_path_factory.mktemp("vault-site"))
    data_dir = tmp_path_factory.mktemp("availability-node")
    project = uuid.uuid4().hex
    seed = start_server(data_dir, env=node_env(root, site, archive_read_only=False))
    try:
        client = Api(seed.url, project)
        image = client.create(name="archived")
        assert client.upload(image["id"], b"archived bytes", **{"X-Image-Meta-Store": "archive"}).status_code == 204
        client.close()
    finally:
        seed.stop()
    server = start_server(data_dir, env=node_env(root, site, archive_read_only=True))
    yield server, project, image["id"]
    server.stop()


@pytest.fixture
def api(archived: tuple[Server, str, str]) -> Iterator[Api]:
    client = Api(archived[0].url, archived[1])
    yield client
    client.close()


def test_a_read_only_store_serves_its_images_but_refuses_new_data(api: Api, archived: tuple[Server, str, str],
                                                                   root: Path) -> None:
    image_id = archived[2]
    assert api.http.get(f"/v2/images/{image_id}/file").content == b"archived bytes"
    image = api.create()
    refused = api.upload(image["id"], b"new", **{"X-Image-Meta-Store": "archive"})
    assert refused.status_code == 403
    assert "read-only" in refused.json()["message"] and "fast" in refused.json()["message"]
    assert api.show(image["id"])["status"] == "queued"
    assert not (root / "archive" / image["id"]).exists()


def test_a_read_only_store_is_announced_and_left_out_of_uploads_and_imports(api: Api) -> None:
    created = api.http.post("/v2/images", json={"name": "x"})
    assert created.headers["openstack-image-store-ids"] == "fast,cold,vault"
    listed = {s["id"]: s for s in api.http.get("/v2/info/stores").json()["stores"]}
    assert listed["archive"]["read-only"] == "true" and "read-only" not in listed["fast"]
    image = api.create()
    staged = api.http.put(f"/v2/images/{image['id']}/stage", content=b"x",
                          headers={"Content-Type": "application/octet-stream"})
    assert staged.status_code == 204
    response = api.http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "glance-direct"}, "stores": ["fast", "archive"]})
    assert response.status_code == 403 and "archive" in response.json()["message"]


def test_copies_in_a_read_only_store_are_not_deleted(api: Api, archived: tuple[Server, str, str],
                                                    root: Path) -> None:
    admin = Api(archived[0].url, api.project, roles="admin,member,reader")
    try:
        response = admin.http.delete(f"/v2/stores/archive/{archived[2]}")
        assert response.status_code == 403 and "read-only" in response.json()["message"]
        assert (root / "archive" / archived[2]).exists()
    finally:
        admin.close()


def test_a_store_that_is_down_answers_503_with_retry_after_while_others_serve(api: Api, root: Path) -> None:
    on_cold = api.create()
    assert api.upload(on_cold["id"], b"cold copy", **{"X-Image-Meta-Store": "cold"}).status_code == 204
    on_fast = api.create()
    assert api.upload(on_fast["id"], b"fast copy").status_code == 204
    (root / "cold").rename(root / "cold-unmounted")
    try:
        download = api.http.get(f"/v2/images/{on_cold['id']}/file")
        assert download.status_code == 503 and int(download.headers["retry-after"]) > 0
        assert "cold" in download.json()["message"]
        waiting = api.create()
        upload = api.upload(waiting["id"], b"data", **{"X-Image-Meta-Store": "cold"})
        assert upload.status_code == 503 and int(upload.headers["retry-after"]) > 0
        assert "cold" in upload.json()["message"]
        assert api.show(waiting["id"])["status"] == "queued"
        assert api.http.get(f"/v2/images/{on_fast['id']}/file").content == b"fast copy"
        other = api.create()
        assert api.upload(other["id"], b"still fine").status_code == 204
        deadline = time.monotonic() + 10  # the node keeps its health answer for a second
        while (health := api.http.get("/healthcheck", params={"detail": "1"}).json()["checks"])["store:cold"]["ok"]:
            assert time.monotonic() < deadline, health
            time.sleep(0.2)
        assert health["store:fast"]["ok"]
        assert health["store:archive"]["ok"]
    finally:
        (root / "cold-unmounted").rename(root / "cold")
    assert api.http.get(f"/v2/images/{on_cold['id']}/file").content == b"cold copy"
    assert api.upload(waiting["id"], b"data", **{"X-Image-Meta-Store": "cold"}).status_code == 204
    assert not [p.name for p in (root / "cold").iterdir() if p.name.startswith(".")]


def test_store_details_are_for_administrators_and_never_show_secrets(api: Api, archived: tuple[Server, str, str],
                                                                    root: Path) -> None:
    assert api.http.get("/v2/info/stores/detail").status_code == 403
    admin = Api(archived[0].url, api.project, roles="admin,member,reader")
    try:
        response = admin.http.get("/v2/info/stores/detail")
    finally:
        admin.close()
    assert response.status_code == 200
    assert SECRET not in response.text and "AKIA" not in response.text
    stores = {s["id"]: s for s in response.json()["stores"]}
    assert stores["fast"]["type"] == "filesystem" and stores["fast"]["properties"]["path"] == str(root / "fast")
    assert stores["archive"]["read-only"] == "true"
    vault = stores["vault"]
    assert vault["type"] == "vault" and vault["properties"]["region"] == "south"
    assert vault["properties"]["endpoint"] == "https://***@vault.test"
    assert "secret_key" not in vault["properties"] and "access_key" not in vault["properties"]


def test_deleting_an_image_leaves_the_data_of_a_read_only_store(archived: tuple[Server, str, str],
                                                               root: Path) -> None:
    owner = Api(archived[0].url, archived[1])
    try:
        assert owner.http.delete(f"/v2/images/{archived[2]}").status_code == 204
        deadline = time.monotonic() + 20
        while owner.http.get(f"/v2/images/{archived[2]}").status_code != 404:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        owner.close()
    assert (root / "archive" / archived[2]).read_bytes() == b"archived bytes"
