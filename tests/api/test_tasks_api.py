"""``/v2/tasks``: Glance's deprecated, admin-only tasks API, and its legacy ``import`` task."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from glanceclient import Client

from tests.conftest import Api, Server, start_server
from tests.support.web import payload

ENV = {"GLIMPSE_EXTENSIONS": '["image-import"]', "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]",
       "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("tasks"), env=ENV)
    yield server
    server.stop()


@pytest.fixture
def admin(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex, roles="admin,member,reader")
    yield client
    client.close()


def legacy_import(admin: Api, url: str, name: str) -> dict[str, Any]:
    response = admin.http.post("/v2/tasks", json={"type": "import", "input": {
        "import_from": url, "import_from_format": "raw",
        "image_properties": {"name": name, "container_format": "bare"}}})
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    assert response.headers["location"] == f"{admin.base_url}/v2/tasks/{task['id']}"
    return task


def finished(admin: Api, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        task: dict[str, Any] = admin.http.get(f"/v2/tasks/{task_id}").json()
        if task["status"] in ("success", "failure"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def test_legacy_import_task(admin: Api, files: str) -> None:
    task = legacy_import(admin, f"{files}/3000", "legacy")
    assert task["type"] == "import" and task["status"] == "pending"
    assert task["input"]["import_from"] == f"{files}/3000"
    assert task["self"] == f"/v2/tasks/{task['id']}" and task["schema"] == "/v2/schemas/task"
    done = finished(admin, task["id"])
    assert done["status"] == "success" and done["expires_at"].endswith("Z")
    image = admin.show(done["result"]["image_id"])
    assert (image["name"], image["disk_format"], image["status"], image["size"]) == ("legacy", "raw", "active", 3000)
    assert admin.http.get(f"/v2/images/{image['id']}/file").content == payload(3000)


def test_failed_legacy_import(admin: Api, files: str) -> None:
    task = finished(admin, legacy_import(admin, f"{files}/missing", "broken")["id"])
    assert task["status"] == "failure" and "404" in task["message"]


def test_listing_paging_and_filters(admin: Api, files: str) -> None:
    for i in range(3):
        finished(admin, legacy_import(admin, f"{files}/{100 + i}", f"page-{i}")["id"])
    first = admin.http.get("/v2/tasks", params={"limit": 2, "type": "import", "sort_dir": "asc"}).json()
    assert len(first["tasks"]) == 2 and "input" not in first["tasks"][0]
    assert first["schema"] == "/v2/schemas/tasks" and first["first"].startswith("/v2/tasks?")
    seen = [t["id"] for t in first["tasks"]]
    page = first
    while "next" in page:
        page = admin.http.get(page["next"]).json()
        seen += [t["id"] for t in page["tasks"]]
    assert len(seen) == len(set(seen)) >= 3
    failures = admin.http.get("/v2/tasks", params={"status": "failure"}).json()["tasks"]
    assert all(t["status"] == "failure" for t in failures)


@pytest.mark.parametrize("params", [{"limit": "x"}, {"limit": "-1"}, {"sort_key": "owner"}, {"sort_dir": "up"},
                                    {"status": "lost"}, {"type": "copy"}, {"marker": "not-a-uuid"},
                                    {"marker": str(uuid.uuid4())}])
def test_bad_list_parameters_are_400(admin: Api, params: dict[str, str]) -> None:
    assert admin.http.get("/v2/tasks", params=params).status_code == 400


def test_errors(admin: Api, node: Server) -> None:
    member = Api(node.url, admin.project)
    assert member.http.get("/v2/tasks").status_code == 403
    assert member.http.post("/v2/tasks", json={"type": "import", "input": {}}).status_code == 403
    assert admin.http.get(f"/v2/tasks/{uuid.uuid4()}").status_code == 404
    assert admin.http.post("/v2/tasks", json={"type": "import"}).status_code == 400
    assert admin.http.post("/v2/tasks", json={"type": "export", "input": {}}).status_code == 400
    assert admin.http.post("/v2/tasks", json={"type": "import", "input": {"x": 1}}).status_code == 400
    response = admin.http.delete(f"/v2/tasks/{uuid.uuid4()}")
    assert response.status_code == 405 and response.headers["allow"] == "GET"


def test_schemas(admin: Api) -> None:
    task = admin.http.get("/v2/schemas/task").json()
    assert task["name"] == "task" and task["properties"]["status"]["enum"][0] == "pending"
    tasks = admin.http.get("/v2/schemas/tasks").json()
    assert "input" not in tasks["properties"]["tasks"]["items"]["properties"]


def test_glanceclient_tasks(node: Server, files: str) -> None:
    glance = Client("2", endpoint=node.url, token="x",
                    identity_headers={"X-Project-Id": uuid.uuid4().hex, "X-Roles": "admin"})
    task = glance.tasks.create(type="import", input={
        "import_from": f"{files}/512", "import_from_format": "raw",
        "image_properties": {"name": "gc-task", "container_format": "bare"}})
    deadline = time.monotonic() + 30
    while glance.tasks.get(task.id).status not in ("success", "failure"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert glance.tasks.get(task.id).status == "success"
    assert task.id in [t.id for t in glance.tasks.list()]


def test_without_web_download_import_tasks_are_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(tmp_path_factory.mktemp("no-web-download"),
                          env={"GLIMPSE_IMPORT_METHODS": '["glance-direct"]'})
    try:
        admin = Api(server.url)
        response = admin.http.post("/v2/tasks", json={"type": "import", "input": {"import_from": "http://x/y"}})
        assert response.status_code == 400 and "web-download" in response.json()["message"]
    finally:
        server.stop()
