"""Interoperable image import (the ``image-import`` extension): stage, glance-direct, web-download, tasks."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
from glanceclient import Client
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session

from tests.conftest import Api, Server, start_server
from tests.support.web import payload

MiB = 1024 * 1024
IMPORT_ENV = {"GLIMPSE_EXTENSIONS": '["image-import"]', "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]",
              "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'}


@pytest.fixture(scope="module")
def node(database_url: str, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp(f"import-{backend}"), database_url=database_url, env=IMPORT_ENV)
    yield server
    server.stop()


@pytest.fixture
def api(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex)
    yield client
    client.close()


def wait_for(api: Api, image_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image = api.show(image_id)
        if image["status"] in statuses:
            return image
        assert time.monotonic() < deadline, image
        time.sleep(0.05)


def stage(api: Api, image_id: str, data: bytes, **headers: str) -> httpx.Response:
    return api.http.put(f"/v2/images/{image_id}/stage", content=data,
                        headers={"Content-Type": "application/octet-stream", **headers})


def start(api: Api, image_id: str, body: dict[str, Any]) -> httpx.Response:
    return api.http.post(f"/v2/images/{image_id}/import", json=body)


def tasks(api: Api, image_id: str) -> list[dict[str, Any]]:
    response = api.http.get(f"/v2/images/{image_id}/tasks")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["tasks"]
    return listed


def finished_task(api: Api, image_id: str, timeout: float = 30, known: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The image's newest import task (leaving out the ids in ``known``) once it has ended.

    A failed import puts the image back in ``queued`` a moment before its task records the failure,
    so a test that saw the image settle waits here for the task.
    """
    deadline = time.monotonic() + timeout
    while True:
        listed = [task for task in tasks(api, image_id) if task["id"] not in known]
        if listed and listed[0]["status"] in ("success", "failure"):
            return dict(listed[0])
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)


def staged_files(node: Server) -> list[str]:
    return [name for name in os.listdir(node.data_dir / "staging") if not name.startswith(".")]


def test_methods_are_advertised(api: Api) -> None:
    info = api.http.get("/v2/info/import").json()["import-methods"]
    assert info["value"] == ["glance-direct", "web-download"]
    created = api.http.post("/v2/images", json={"name": "x"})
    assert created.headers["openstack-image-import-methods"] == "glance-direct,web-download"
    extension = api.http.get("/v2/extensions/image-import").json()["extension"]
    assert "/v2/images/{image_id}/stage" in extension["adds"]["routes"]


def test_glance_direct(api: Api, node: Server) -> None:
    data = os.urandom(3 * MiB + 5)
    image = api.create(name="direct")
    response = stage(api, image["id"], data)
    assert response.status_code == 204
    staged = api.show(image["id"])
    assert staged["status"] == "uploading" and staged["size"] == len(data)
    assert api.http.get(f"/v2/images/{image['id']}/file").status_code == 204
    assert image["id"] in staged_files(node)

    response = start(api, image["id"], {"method": {"name": "glance-direct"}})
    assert response.status_code == 202 and response.content == b""
    active = wait_for(api, image["id"], "active", "queued")
    assert active["status"] == "active"
    assert active["checksum"] == hashlib.md5(data).hexdigest()
    assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert not any(key.startswith("os_glance_import") for key in active)
    assert api.http.get(f"/v2/images/{image['id']}/file").content == data
    assert image["id"] not in staged_files(node)
    [task] = tasks(api, image["id"])
    assert task["type"] == "api_image_import" and task["status"] == "success"
    assert task["result"] == {"image_id": image["id"]}
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
    assert task["expires_at"] and "T" in task["created_at"] and not task["created_at"].endswith("Z")


def test_web_download(api: Api, files: str) -> None:
    image = api.create(name="web")
    response = start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/{2 * MiB + 1}"}})
    assert response.status_code == 202
    active = wait_for(api, image["id"], "active", "queued")
    assert active["status"] == "active" and active["size"] == 2 * MiB + 1
    assert api.http.get(f"/v2/images/{image['id']}/file").content == payload(2 * MiB + 1)


def test_failed_web_download_is_recorded(api: Api, files: str) -> None:
    image = api.create(name="web-fail")
    assert start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/missing"}}).status_code == 202
    deadline = time.monotonic() + 30
    while not (listed := tasks(api, image["id"])) or listed[0]["status"] not in ("success", "failure"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert listed[0]["status"] == "failure" and "404" in listed[0]["message"]
    failed = api.show(image["id"])
    assert failed["status"] == "queued"
    assert failed["os_glance_failed_import"] == "file"
    assert "os_glance_import_task" not in failed
    # queued again: the same image can be imported another way
    assert start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/100"}}).status_code == 202
    assert wait_for(api, image["id"], "active")["size"] == 100


def test_data_not_matching_its_format_fails_the_import(api: Api, node: Server) -> None:
    image = api.create(disk_format="qcow2")
    assert stage(api, image["id"], os.urandom(10_000)).status_code == 204
    assert start(api, image["id"], {"method": {"name": "glance-direct"}}).status_code == 202
    assert wait_for(api, image["id"], "queued")["status"] == "queued"
    # the image goes back to queued a moment before its task records the failure
    deadline = time.monotonic() + 10
    while (last := tasks(api, image["id"])[-1])["status"] != "failure":
        assert time.monotonic() < deadline, last
        time.sleep(0.05)
    assert "qcow2" in last["message"]
    assert image["id"] not in staged_files(node)


@pytest.mark.parametrize("body,fragment", [
    ({}, "method"),
    ({"method": "glance-direct"}, "method"),
    ({"method": {"name": "copy-everything"}}, "not enabled"),
    ({"method": {"name": "web-download"}}, "uri"),
    ({"method": {"name": "web-download", "uri": "ftp://example.com/x"}}, "http"),
    ({"method": {"name": "glance-direct"}, "all_stores": "yes"}, "all_stores"),
    ({"method": {"name": "glance-direct"}, "stores": ["file"], "all_stores": True}, "not both"),
])
def test_bad_import_requests_are_400(api: Api, body: dict[str, Any], fragment: str) -> None:
    image = api.create()
    response = start(api, image["id"], body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


def test_import_preconditions_are_409(api: Api, files: str) -> None:
    queued = api.create()
    response = start(api, queued["id"], {"method": {"name": "glance-direct"}})
    assert response.status_code == 409 and "uploading" in response.json()["message"]
    no_formats = api.http.post("/v2/images", json={"name": "bare"}).json()
    response = start(api, no_formats["id"], {"method": {"name": "web-download", "uri": f"{files}/10"}})
    assert response.status_code == 409 and "disk_format" in response.json()["message"]
    response = start(api, queued["id"], {"method": {"name": "web-download", "uri": f"{files}/10"},
                                         "stores": ["elsewhere"]})
    assert response.status_code == 409 and "elsewhere" in response.json()["message"]
    active = api.create()
    api.upload(active["id"], b"data")
    assert start(api, active["id"], {"method": {"name": "web-download", "uri": f"{files}/10"}}).status_code == 409
    staged = api.create()
    stage(api, staged["id"], b"abc")
    assert stage(api, staged["id"], b"again").status_code == 409


def test_a_running_import_holds_the_image(api: Api, files: str) -> None:
    image = api.create()
    assert start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/slow"}}).status_code == 202
    wait_for(api, image["id"], "importing")
    response = start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/10"}})
    assert response.status_code == 409
    assert api.show(image["id"])["os_glance_import_task"] == tasks(api, image["id"])[0]["id"]
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204


def test_stage_request_errors(api: Api) -> None:
    image = api.create()
    response = api.http.put(f"/v2/images/{image['id']}/stage", content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert stage(api, image["id"], b"abc", **{"x-openstack-image-size": "10"}).status_code == 400
    assert api.show(image["id"])["status"] == "queued"
    other = Api(api.base_url, uuid.uuid4().hex)
    assert stage(other, image["id"], b"x").status_code == 404
    public = Api(api.base_url).create(visibility="public")
    assert stage(other, public["id"], b"x").status_code == 403


def test_deleting_a_staged_image_removes_the_staged_data(api: Api, node: Server) -> None:
    image = api.create()
    stage(api, image["id"], b"staged bytes")
    assert image["id"] in staged_files(node)
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert image["id"] not in staged_files(node)


def test_staging_quota_is_never_overshot(api: Api, node: Server, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from glimpse.composition import open_services
    from glimpse.settings import Settings

    services = open_services(Settings(data_dir=tmp_path, database_url=database_url))
    services.quotas.set_limit(api.project, "image_stage_total", 5)
    services.close()
    ids = [api.create()["id"] for _ in range(10)]
    barrier = threading.Barrier(10)

    def put(i: int) -> int:
        client = Api(node.url, api.project)
        barrier.wait()
        return stage(client, ids[i], bytes([i]) * MiB).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(put, range(10)))
    assert codes.count(204) == 5 and codes.count(413) == 5
    usage = api.http.get("/v2/info/usage").json()["usage"]["image_stage_total"]
    assert usage == {"limit": 5, "usage": 5}
    statuses = sorted(api.show(i)["status"] for i in ids)
    assert statuses == ["queued"] * 5 + ["uploading"] * 5


def test_glanceclient_image_create_via_import(node: Server, files: str) -> None:
    project = uuid.uuid4().hex
    glance = Client("2", endpoint=node.url, token="unused", identity_headers={"X-Project-Id": project})
    assert glance.images.get_import_info()["import-methods"]["value"] == ["glance-direct", "web-download"]
    image = glance.images.create(name="gc-import", disk_format="raw", container_format="bare")
    glance.images.stage(image["id"], io.BytesIO(b"glanceclient staged"))
    glance.images.image_import(image["id"], method="glance-direct")
    api = Api(node.url, project)
    wait_for(api, image["id"], "active")
    assert b"".join(glance.images.data(image["id"])) == b"glanceclient staged"
    web = glance.images.create(name="gc-web", disk_format="raw", container_format="bare")
    glance.images.image_import(web["id"], method="web-download", uri=f"{files}/4096")
    wait_for(api, web["id"], "active")


def test_openstacksdk_use_import(node: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = uuid.uuid4().hex
    session = ks_session.Session(auth=noauth.NoAuth(), additional_headers={"X-Project-Id": project})
    sdk = openstack.connection.Connection(session=session, image_endpoint_override=node.url)
    path = tmp_path / "disk.raw"
    path.write_bytes(b"sdk import " * 1000)
    image = sdk.image.create_image(name="sdk-import", filename=str(path), disk_format="raw",
                                   container_format="bare", use_import=True, allow_duplicates=True)
    assert wait_for(Api(node.url, project), image.id, "active")["size"] == len(path.read_bytes())
    assert sdk.image.download_image(sdk.image.get_image(image.id)).content == path.read_bytes()


def test_import_is_on_by_default_with_glance_direct_and_web_download(server: Server) -> None:
    api = Api(server.url, uuid.uuid4().hex)
    assert api.http.get("/v2/info/import").json()["import-methods"]["value"] == ["glance-direct", "web-download"]
    created = api.http.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"})
    assert created.headers["openstack-image-import-methods"] == "glance-direct,web-download"
    assert stage(api, created.json()["id"], b"staged by default").status_code == 204
    assert start(api, created.json()["id"], {"method": {"name": "glance-direct"}}).status_code == 202
    assert wait_for(api, created.json()["id"], "active")["size"] == len(b"staged by default")


def test_without_the_extension_there_is_no_import(tmp_path: Path) -> None:
    server = start_server(tmp_path / "no-import", env={"GLIMPSE_EXTENSIONS": '["templates"]'})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create()
        assert api.http.get("/v2/info/import").json()["import-methods"]["value"] == []
        assert stage(api, image["id"], b"x").status_code == 404
        refused = start(api, image["id"], {"method": {"name": "glance-direct"}})
        assert refused.status_code == 400 and "not enabled" in refused.json()["message"]
        assert "enabled: none" in refused.json()["message"]
        assert "openstack-image-import-methods" not in api.http.post("/v2/images", json={}).headers
    finally:
        server.stop()


def test_task_listing_needs_a_visible_image(api: Api) -> None:
    image = api.create(visibility="private")
    assert Api(api.base_url, uuid.uuid4().hex).http.get(f"/v2/images/{image['id']}/tasks").status_code == 404
    assert tasks(api, image["id"]) == []
    json.dumps(tasks(api, image["id"]))


def test_import_into_several_stores(files: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stores = {"file": {"driver": "filesystem", "path": str(tmp_path / "hot")},
              "cold": {"driver": "filesystem", "path": str(tmp_path / "cold")}}
    server = start_server(tmp_path / "multi", env={**IMPORT_ENV, "GLIMPSE_STORES": json.dumps(stores)})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        both = api.create()
        assert start(api, both["id"], {"method": {"name": "web-download", "uri": f"{files}/5000"},
                                       "all_stores": True}).status_code == 202
        assert wait_for(api, both["id"], "active")["os_hash_value"] == hashlib.sha512(payload(5000)).hexdigest()
        assert (tmp_path / "hot" / both["id"]).read_bytes() == payload(5000)
        assert (tmp_path / "cold" / both["id"]).read_bytes() == payload(5000)

        (tmp_path / "cold").rename(tmp_path / "cold-gone")  # the cold store breaks
        lenient = api.create()
        assert start(api, lenient["id"], {"method": {"name": "web-download", "uri": f"{files}/6000"},
                                          "stores": ["file", "cold"], "all_stores_must_succeed": False}
                     ).status_code == 202
        active = wait_for(api, lenient["id"], "active", "queued")
        assert active["status"] == "active" and active["os_glance_failed_import"] == "cold"
        assert api.http.get(f"/v2/images/{lenient['id']}/file").content == payload(6000)

        strict = api.create()
        assert start(api, strict["id"], {"method": {"name": "web-download", "uri": f"{files}/7000"},
                                         "stores": ["file", "cold"]}).status_code == 202
        failed = wait_for(api, strict["id"], "queued")
        assert failed["os_glance_failed_import"] == "file,cold"
        assert not (tmp_path / "hot" / strict["id"]).exists()
        assert "cold" in tasks(api, strict["id"])[0]["message"]
    finally:
        server.stop()


def test_a_node_dying_mid_import_is_cleaned_up(files: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal
    import subprocess
    import sys

    data_dir = tmp_path / "dying"
    server = start_server(data_dir, env=IMPORT_ENV)
    api = Api(server.url, uuid.uuid4().hex)
    image = api.create()
    assert start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/slow"}}).status_code == 202
    wait_for(api, image["id"], "importing")
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()

    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env.update(IMPORT_ENV)
    result = subprocess.run([sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(data_dir), "cleanup",
                             "--stale-minutes", "0"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "failed 1 import task(s)" in result.stdout

    server = start_server(data_dir, env=IMPORT_ENV)
    try:
        api = Api(server.url, api.project)
        recovered = api.show(image["id"])
        assert recovered["status"] == "queued" and "os_glance_import_task" not in recovered
        [task] = tasks(api, image["id"])
        assert task["status"] == "failure" and "went away" in task["message"]
        assert start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/64"}}).status_code == 202
        assert wait_for(api, image["id"], "active")["size"] == 64
    finally:
        server.stop()
