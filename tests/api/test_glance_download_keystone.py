"""glance-download in a Keystone cloud: the remote region found in the caller's catalog, the caller's token forwarded."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_server
from tests.support.identity import Cloud


@pytest.fixture(scope="module")
def second_region(keystone_cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second Glimpse node of the cloud with glance-download and no endpoint map: only the catalog names
    RegionOne (the cloud's first node)."""
    node = start_server(tmp_path_factory.mktemp("region-two-keystone"), env={
        "GLIMPSE_AUTH_STRATEGY": "keystone", "GLIMPSE_KEYSTONE_URL": keystone_cloud.keystone.url,
        "GLIMPSE_KEYSTONE_USERNAME": "glimpse", "GLIMPSE_KEYSTONE_PASSWORD": "service-secret",
        "GLIMPSE_KEYSTONE_PROJECT_NAME": "service",
        "GLIMPSE_IMPORT_METHODS": json.dumps(["glance-direct", "glance-download"]),
        "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]", "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'})
    try:
        yield node
    finally:
        node.stop()


def _task(url: str, token: str, image_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = httpx.get(f"{url}/v2/images/{image_id}/tasks", headers={"X-Auth-Token": token}).json()["tasks"]
        if tasks and tasks[0]["status"] in ("success", "failure"):
            return dict(tasks[0])
        assert time.monotonic() < deadline, tasks
        time.sleep(0.05)


def test_an_image_is_fetched_from_the_region_in_the_callers_catalog_with_the_callers_token(
        keystone_cloud: Cloud, second_region: Server) -> None:
    alice, bob = keystone_cloud.token("alice"), keystone_cloud.token("bob")
    one = httpx.Client(base_url=keystone_cloud.glimpse.url, headers={"X-Auth-Token": alice}, timeout=60)
    data = uuid.uuid4().bytes * 4096
    source = one.post("/v2/images", json={"disk_format": "raw", "container_format": "bare",
                                          "hw_rng_model": "virtio"}).json()
    assert one.put(f"/v2/images/{source['id']}/file", content=data,
                   headers={"Content-Type": "application/octet-stream"}).status_code == 204
    body = {"method": {"name": "glance-download", "glance_region": "RegionOne", "glance_image_id": source["id"],
                       "glance_service_interface": "public"}}
    for token, outcome in ((bob, "failure"), (alice, "success")):  # bob's token cannot see alice's private image
        two = httpx.Client(base_url=second_region.url, headers={"X-Auth-Token": token}, timeout=60)
        assert "glance-download" in two.get("/v2/info/import").json()["import-methods"]["value"]
        target = two.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
        started = two.post(f"/v2/images/{target['id']}/import", json=body)
        assert started.status_code == 202, started.text
        task = _task(second_region.url, token, target["id"])
        assert task["status"] == outcome, task
        image = two.get(f"/v2/images/{target['id']}").json()
        if outcome == "failure":
            assert image["status"] == "queued" and "404" in task["message"]
            continue
        assert image["status"] == "active" and image["hw_rng_model"] == "virtio"
        assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
        assert two.get(f"/v2/images/{target['id']}/file").content == data
    unknown = httpx.Client(base_url=second_region.url, headers={"X-Auth-Token": alice, "Accept": "application/json"},
                           timeout=60)
    target = unknown.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
    refused = unknown.post(f"/v2/images/{target['id']}/import", json={**body, "method": {
        **body["method"], "glance_region": "Atlantis"}})
    assert refused.status_code == 400 and "RegionOne" in refused.json()["message"]
