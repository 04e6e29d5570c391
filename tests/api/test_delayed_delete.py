"""delayed_delete: a deleted image goes to pending_delete with its data kept; the scrubber removes it, an
operator can restore it first."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, Server, manage, start_server


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("delayed"), env={
        "GLIMPSE_DELAYED_DELETE": "true", "GLIMPSE_SCRUB_INTERVAL": "0"})
    yield server
    server.stop()


def stored(node: Server, image_id: str) -> Path:
    return node.data_dir / "images" / image_id


def active(api: Api, data: bytes) -> str:
    image = api.create(disk_format="raw", container_format="bare")
    assert api.upload(image["id"], data).status_code == 204
    return str(image["id"])


def test_a_deleted_image_is_gone_for_the_api_but_its_data_is_kept(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image_id = active(api, b"keep me")
    assert api.http.delete(f"/v2/images/{image_id}").status_code == 204
    assert api.http.get(f"/v2/images/{image_id}").status_code == 404
    assert api.http.get(f"/v2/images/{image_id}/file").status_code == 404
    assert image_id not in [i["id"] for i in api.http.get("/v2/images").json()["images"]]
    assert Api(node.url).http.get(f"/v2/images/{image_id}").status_code == 404  # admins too
    assert stored(node, image_id).read_bytes() == b"keep me"


def test_an_operator_restores_a_pending_delete_image(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image_id = active(api, b"bring me back")
    assert api.http.delete(f"/v2/images/{image_id}").status_code == 204
    restored = manage("image", "restore", image_id, server=node)
    assert restored.returncode == 0, restored.stderr
    assert "active" in restored.stdout
    assert api.show(image_id)["status"] == "active"
    assert api.http.get(f"/v2/images/{image_id}/file").content == b"bring me back"
    again = manage("image", "restore", image_id, server=node)
    assert again.returncode != 0 and "only a 'pending_delete' image can be restored" in again.stderr


def test_the_scrubber_removes_the_data_and_the_image_cannot_be_restored_after(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image_id = active(api, b"scrub me")
    assert api.http.delete(f"/v2/images/{image_id}").status_code == 204
    scrubbed = manage("scrub", server=node)
    assert scrubbed.returncode == 0, scrubbed.stderr
    assert "removed the data of" in scrubbed.stdout
    assert not stored(node, image_id).exists()
    assert manage("scrub", server=node).stdout.startswith("removed the data of 0 ")
    late = manage("image", "restore", image_id, server=node)
    assert late.returncode != 0 and image_id in late.stderr


def test_an_image_without_data_is_deleted_at_once(node: Server) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image = api.create()
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
    refused = manage("image", "restore", image["id"], server=node)
    assert refused.returncode != 0


def test_the_periodic_scrubber_removes_data_after_scrub_time(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env={
        "GLIMPSE_DELAYED_DELETE": "true", "GLIMPSE_SCRUB_INTERVAL": "0.3", "GLIMPSE_SCRUB_TIME": "1"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image_id = active(api, b"periodic")
        assert api.http.delete(f"/v2/images/{image_id}").status_code == 204
        assert stored(server, image_id).exists()
        deadline = time.monotonic() + 20
        while stored(server, image_id).exists():
            assert time.monotonic() < deadline, "the scrubber did not remove the data"
            time.sleep(0.1)
    finally:
        server.stop()
