"""Every way bytes come in goes through one pipeline: upload, staging into a configured store, import."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_import import stage, start, wait_for
from tests.conftest import Api, Server, start_server


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ingest-stores")


@pytest.fixture(scope="module")
def node(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("ingest"), env={
        "GLIMPSE_EXTENSIONS": '["image-import"]',
        "GLIMPSE_STORES": json.dumps({"file": {"driver": "filesystem", "path": str(root / "images")}}),
        "GLIMPSE_STAGING_STORE": json.dumps({"driver": "filesystem", "path": str(root / "shared-staging")}),
    })
    yield server
    server.stop()


@pytest.fixture
def api(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex)
    yield client
    client.close()


def test_staged_data_is_written_to_the_configured_staging_store_and_imported_from_it(api: Api, root: Path) -> None:
    data = os.urandom(300_000)
    image = api.create()
    assert stage(api, image["id"], data).status_code == 204
    assert (root / "shared-staging" / image["id"]).read_bytes() == data
    assert start(api, image["id"], {"method": {"name": "glance-direct"}}).status_code == 202
    active = wait_for(api, image["id"], "active", "queued")
    assert active["status"] == "active" and active["checksum"] == hashlib.md5(data).hexdigest()
    assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert (root / "images" / image["id"]).read_bytes() == data
    assert not (root / "shared-staging" / image["id"]).exists()


def test_an_import_of_data_that_fails_the_format_check_keeps_nothing(api: Api, root: Path) -> None:
    image = api.create(disk_format="qcow2")
    assert stage(api, image["id"], b"this is no qcow2 image").status_code == 204
    assert start(api, image["id"], {"method": {"name": "glance-direct"}}).status_code == 202
    failed = wait_for(api, image["id"], "queued")
    assert failed["status"] == "queued" and not failed.get("checksum")
    assert not (root / "images" / image["id"]).exists()
    assert not [p for p in (root / "images").iterdir() if p.name.startswith(".")]


def test_an_upload_that_fails_the_format_check_is_refused_before_commit(api: Api, root: Path) -> None:
    image = api.create(disk_format="vmdk")
    response = api.upload(image["id"], b"x" * 100_000)
    assert response.status_code == 415 and "vmdk" in response.json()["message"]
    assert api.show(image["id"])["status"] == "queued"
    assert not (root / "images" / image["id"]).exists()
    assert not [p for p in (root / "images").iterdir() if p.name.startswith(".")]


def test_staging_beyond_the_stage_quota_names_that_quota(root: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env={
        "GLIMPSE_EXTENSIONS": '["image-import"]', "GLIMPSE_QUOTA_IMAGE_STAGE_TOTAL": "1",
        "GLIMPSE_STAGING_STORE": json.dumps({"driver": "filesystem", "path": str(tmp_path / "staging")})})
    client = Api(server.url, uuid.uuid4().hex)
    try:
        image = client.create()
        response = client.http.put(f"/v2/images/{image['id']}/stage", content=iter([bytes(1 << 20)] * 2),
                                   headers={"Content-Type": "application/octet-stream"})
        assert response.status_code == 413 and "image_stage_total" in response.json()["message"]
        assert client.show(image["id"])["status"] == "queued"
        assert list((tmp_path / "staging").iterdir()) == []
    finally:
        client.close()
        server.stop()
