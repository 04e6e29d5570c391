"""Every refused import says why in words a person can act on, and a refused request leaves no task."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Api, Server, start_server
from tests.api.test_import import IMPORT_ENV, finished_task, start, tasks


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("import-refusals"), env=IMPORT_ENV)
    yield server
    server.stop()


@pytest.fixture
def api(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex)
    yield client
    client.close()


def test_an_import_refused_at_the_request_records_no_failed_task(api: Api, files: str) -> None:
    active = api.create()
    assert api.upload(active["id"], b"data").status_code == 204
    response = start(api, active["id"], {"method": {"name": "web-download", "uri": f"{files}/10"}})
    assert response.status_code == 409
    assert "'active'" in response.json()["message"] and "queued" in response.json()["message"]
    assert tasks(api, active["id"]) == []


def test_a_missing_file_is_explained(api: Api, files: str) -> None:
    image = api.create()
    assert start(api, image["id"], {"method": {"name": "web-download", "uri": f"{files}/missing"}}).status_code == 202
    task = finished_task(api, image["id"])
    assert "404 Not Found" in task["message"] and "nothing at that URL" in task["message"]
