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
