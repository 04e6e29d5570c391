"""Staging that any node can finish: stage on one API node, import on another (one database, shared stores)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Server, _server_database, start_server


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Path]]:
    root = tmp_path_factory.mktemp("two-nodes")
    databases = _server_database("postgresql", root / "db")
    url = next(databases)
    shared = root / "shared"
    env = {"GLIMPSE_STORES": json.dumps({"file": {"driver": "filesystem", "path": str(shared / "images")}}),
           "GLIMPSE_STAGING_STORE": json.dumps({"driver": "filesystem", "path": str(shared / "staging")})}
    node_a = start_server(root / "node-a", database_url=url, env=env)
    node_b = start_server(root / "node-b", database_url=url, env=env)
    try:
        yield node_a, node_b, shared
    finally:
        node_a.stop()
        node_b.stop()
        databases.close()


def wait_active(api: Api, image_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (image := api.show(image_id))["status"] != "active":
        assert image["status"] in ("importing", "uploading"), image
        assert time.monotonic() < deadline, image
        time.sleep(0.05)
    return image


def test_data_staged_on_one_node_is_imported_by_another(nodes: tuple[Server, Server, Path]) -> None:
    node_a, node_b, shared = nodes
    project = uuid.uuid4().hex
    on_a, on_b = Api(node_a.url, project), Api(node_b.url, project)
    data = bytes(range(256)) * 4096
    image = on_a.create(disk_format="raw", container_format="bare")
    staged = on_a.http.put(f"/v2/images/{image['id']}/stage", content=data,
                           headers={"Content-Type": "application/octet-stream"})
    assert staged.status_code == 204, staged.text
    assert (shared / "staging" / image["id"]).read_bytes() == data
    assert on_b.show(image["id"])["status"] == "uploading"
    started = on_b.http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "glance-direct"}})
    assert started.status_code == 202, started.text
    active = wait_active(on_b, image["id"])
    assert active["size"] == len(data)
    assert active["checksum"] == hashlib.md5(data).hexdigest()
    assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert on_a.http.get(f"/v2/images/{image['id']}/file").content == data
    assert not (shared / "staging" / image["id"]).exists()
    task = on_a.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]
    assert task["status"] == "success"


def test_a_second_import_on_the_other_node_is_refused_while_one_runs(nodes: tuple[Server, Server, Path]) -> None:
    node_a, node_b, _shared = nodes
    project = uuid.uuid4().hex
    on_a, on_b = Api(node_a.url, project), Api(node_b.url, project)
    image = on_a.create(disk_format="raw", container_format="bare")
    assert on_a.http.put(f"/v2/images/{image['id']}/stage", content=b"once",
                         headers={"Content-Type": "application/octet-stream"}).status_code == 204
    body = {"method": {"name": "glance-direct"}}
    first = on_a.http.post(f"/v2/images/{image['id']}/import", json=body)
    second = on_b.http.post(f"/v2/images/{image['id']}/import", json=body)
    assert first.status_code == 202
    assert second.status_code == 409, second.text
    wait_active(on_a, image["id"])
    again = on_b.http.post(f"/v2/images/{image['id']}/import", json=body)
    assert again.status_code == 409 and "active" in again.json()["message"]
