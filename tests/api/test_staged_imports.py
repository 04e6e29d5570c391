"""glance-direct without a second write: the staged object becomes the image's, every check still made."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_import import finished_task
from tests.conftest import Api, Server, start_server


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("staged-imports"))
    try:
        yield server
    finally:
        server.stop()


def settled(api: Api, image_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (image := api.show(image_id))["status"] in ("importing", "uploading"):
        assert time.monotonic() < deadline, image
        time.sleep(0.05)
    return image


def stage_and_import(api: Api, image: dict[str, Any], data: bytes) -> None:
    staged = api.http.put(f"/v2/images/{image['id']}/stage", content=data,
                          headers={"Content-Type": "application/octet-stream"})
    assert staged.status_code == 204, staged.text
    started = api.http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "glance-direct"}})
    assert started.status_code == 202, started.text


def test_the_staged_file_becomes_the_image_file(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    data = os.urandom(5 * 1024 * 1024 + 1)
    image = api.create(disk_format="raw", container_format="bare")
    assert api.http.put(f"/v2/images/{image['id']}/stage", content=data,
                        headers={"Content-Type": "application/octet-stream"}).status_code == 204
    staged_inode = (node.data_dir / "staging" / image["id"]).stat().st_ino
    assert api.http.post(f"/v2/images/{image['id']}/import",
                         json={"method": {"name": "glance-direct"}}).status_code == 202
    active = settled(api, image["id"])
    assert active["status"] == "active", active
    assert (node.data_dir / "images" / image["id"]).stat().st_ino == staged_inode  # renamed, not rewritten
    assert not (node.data_dir / "staging" / image["id"]).exists()
    assert active["checksum"] == hashlib.md5(data).hexdigest()
    assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert api.http.get(f"/v2/images/{image['id']}/file").content == data


def test_the_format_check_still_refuses_data_of_another_format(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image = api.create(disk_format="qcow2", container_format="bare")
    stage_and_import(api, image, b"this is no qcow2 image" * 1000)
    failed = settled(api, image["id"])
    assert failed["status"] == "queued" and failed["checksum"] is None, failed
    task = finished_task(api, image["id"])
    assert task["status"] == "failure" and "qcow2" in task["message"], task
    assert not (node.data_dir / "images" / image["id"]).exists()
    assert not (node.data_dir / "staging" / image["id"]).exists()


def test_with_an_import_plugin_the_staged_data_is_streamed_through_it(tmp_path: Any) -> None:
    """A plugin may change the data (decompression, conversion): then nothing is adopted."""
    server = start_server(tmp_path / "node", env={"GLIMPSE_IMPORT_PLUGINS": '["image-decompression"]'})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create(disk_format="raw", container_format="bare")
        data = b"a" * 100000
        assert api.http.put(f"/v2/images/{image['id']}/stage", content=data,
                            headers={"Content-Type": "application/octet-stream"}).status_code == 204
        staged = server.data_dir / "staging" / image["id"]
        staged_inode = staged.stat().st_ino
        assert api.http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "glance-direct"}}).status_code == 202
        active = settled(api, image["id"])
        assert active["status"] == "active"
        assert (server.data_dir / "images" / image["id"]).stat().st_ino != staged_inode  # copied: a plugin ran
        assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()
    finally:
        server.stop()


def test_staged_data_gone_before_the_import_fails_it_cleanly(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image = api.create(disk_format="raw", container_format="bare")
    assert api.http.put(f"/v2/images/{image['id']}/stage", content=b"soon gone",
                        headers={"Content-Type": "application/octet-stream"}).status_code == 204
    (node.data_dir / "staging" / image["id"]).unlink()  # an operator's clean-up, a lost disk
    assert api.http.post(f"/v2/images/{image['id']}/import",
                         json={"method": {"name": "glance-direct"}}).status_code == 202
    failed = settled(api, image["id"])
    assert failed["status"] == "queued" and "os_glance_import_task" not in failed, failed
    task = finished_task(api, image["id"])
    assert task["status"] == "failure" and "staged data" in task["message"] and "gone" in task["message"], task
    assert not (node.data_dir / "images" / image["id"]).exists()
