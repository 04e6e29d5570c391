"""glimpseclient staging and importing into Glimpse (the image-import extension), and reading tasks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from glimpseclient import Client
from tests.conftest import Server, start_server


@pytest.fixture(scope="module")
def importing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("client-import"), env={"GLIMPSE_EXTENSIONS": '["image-import"]'})
    yield server
    server.stop()


def test_stage_import_and_tasks(importing: Server) -> None:
    with Client(importing.url, project_id=uuid.uuid4().hex) as client:
        assert client.info.import_methods() == ["glance-direct", "web-download"]
        image = client.images.create(name="client-import", disk_format="raw", container_format="bare")
        client.images.stage(image.id, b"staged by the client" * 100)
        assert client.images.get(image.id).status == "uploading"
        client.images.import_image(image.id, "glance-direct")
        deadline = time.monotonic() + 30
        while client.images.get(image.id).status != "active":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [task] = client.images.tasks(image.id)
        assert task.type == "api_image_import" and task.status == "success"
        with client.images.download(image.id) as download:
            assert b"".join(download) == b"staged by the client" * 100


def test_the_tasks_api(tmp_path_factory: pytest.TempPathFactory, files: str) -> None:
    server = start_server(tmp_path_factory.mktemp("client-tasks"), env={
        "GLIMPSE_EXTENSIONS": '["image-import"]', "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]",
        "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'})
    try:
        with Client(server.url, project_id=uuid.uuid4().hex, roles="admin") as client:
            task = client.tasks.create("import", {"import_from": f"{files}/2048", "import_from_format": "raw",
                                                  "image_properties": {"container_format": "bare"}})
            deadline = time.monotonic() + 30
            while client.tasks.get(task.id).status not in ("success", "failure"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            done = client.tasks.get(task.id)
            assert done.status == "success"
            assert task.id in [t.id for t in client.tasks.list(limit=5)]
            assert client.images.get(done.result["image_id"]).size == 2048  # type: ignore[index]
    finally:
        server.stop()
