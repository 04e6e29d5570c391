"""A registry node and a streaming node: two real processes sharing one database and one store.

Requests reaching each node are counted from its access log (uvicorn logs one
line per request at level info).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openstack
import pytest
from glanceclient import Client
from glanceclient import exc as glance_exc
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session

from tests.conftest import Server, free_port, start_server

_ACCESS = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
DATA = bytes(range(256)) * 4099  # ~1 MiB, not a multiple of the chunk size


@dataclass
class Pair:
    registry: Server
    streaming: Server

    def seen(self, server: Server) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the node has answered."""
        return [(m.group(1), m.group(2), int(m.group(3)))
                for m in map(_ACCESS.search, server.log.read_text().splitlines()) if m]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("roles")
    registry_port, streaming_port = free_port(), free_port()
    env = {
        "GLIMPSE_STORES": json.dumps({"file": {"driver": "filesystem", "path": str(tmp / "images")}}),
        "GLIMPSE_REGISTRY_ENDPOINT": f"http://127.0.0.1:{registry_port}",
        "GLIMPSE_STREAMING_ENDPOINT": f"http://127.0.0.1:{streaming_port}",
    }
    database = f"sqlite:///{tmp / 'shared.db'}"
    registry = start_server(tmp / "registry", database_url=database, port=registry_port,
                            env=env, args=["--role", "registry", "--log-level", "info"])
    streaming = start_server(tmp / "streaming", database_url=database, port=streaming_port,
                             env=env, args=["--role", "streaming", "--log-level", "info"])
    yield Pair(registry, streaming)
    registry.stop()
    streaming.stop()


def _http(server: Server, project: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Project-Id": project, "Accept": "application/json"})


def _glance(server: Server, project: str) -> Client:
    return Client("2", endpoint=server.url, token="unused", identity_headers={"X-Project-Id": project})


def _sdk(server: Server, project: str) -> openstack.connection.Connection:
    session = ks_session.Session(auth=noauth.NoAuth(), additional_headers={"X-Project-Id": project})
    return openstack.connection.Connection(session=session, image_endpoint_override=server.url)


def test_the_version_document_advertises_both_roles(pair: Pair) -> None:
    for node in (pair.registry, pair.streaming):
        links = httpx.get(node.url + "/versions").json()["versions"][0]["links"]
        assert {"rel": "registry", "href": f"{pair.registry.url}/v2/"} in links
        assert {"rel": "streaming", "href": f"{pair.streaming.url}/v2/"} in links


def test_a_registry_node_redirects_data_requests_to_the_streaming_endpoint(pair: Pair, project: str) -> None:
    with _http(pair.registry, project) as registry:
        image = registry.post("/v2/images", json={"name": "r", "disk_format": "raw",
                                                  "container_format": "bare"}).json()
        path = f"/v2/images/{image['id']}/file"
        upload = registry.put(path, content=b"abc", headers={"Content-Type": "application/octet-stream"})
        assert upload.status_code == 307
        assert upload.headers["location"] == f"{pair.streaming.url}{path}?redirected_from=registry"
        download = registry.get(path + "?x=1")
        assert download.status_code == 307
        assert download.headers["location"] == f"{pair.streaming.url}{path}?x=1"
        # The minor-version prefix is understood, and the redirect names the canonical path.
        assert registry.get(f"/v2.9/images/{image['id']}/file").headers["location"] == pair.streaming.url + path


def test_a_streaming_node_redirects_metadata_writes_and_serves_reads(pair: Pair, project: str) -> None:
    with _http(pair.streaming, project) as streaming, _http(pair.registry, project) as registry:
        create = streaming.post("/v2/images", json={"name": "s"})
        assert create.status_code == 307
        assert create.headers["location"] == f"{pair.registry.url}/v2/images?redirected_from=streaming"
        image = registry.post("/v2/images", json={"name": "s", "disk_format": "raw",
                                                  "container_format": "bare"}).json()
        assert streaming.get(f"/v2/images/{image['id']}").json()["name"] == "s"
        assert streaming.delete(f"/v2/images/{image['id']}").status_code == 307
        assert streaming.patch(f"/v2/images/{image['id']}", content=b"[]").status_code == 307
        assert streaming.put(f"/v2/images/{image['id']}/file", content=b"abc",
                             headers={"Content-Type": "application/octet-stream"}).status_code == 204
        assert streaming.get(f"/v2/images/{image['id']}/file").content == b"abc"


def test_without_the_other_endpoint_a_node_answers_404_with_a_reason(tmp_path: Path) -> None:
    node = start_server(tmp_path / "lonely", args=["--role", "registry"])
    try:
        response = httpx.get(f"{node.url}/v2/images/{uuid.uuid4()}/file", headers={"Accept": "application/json"})
        assert response.status_code == 404
        assert "no streaming_endpoint is configured" in response.json()["message"]
    finally:
        node.stop()


def test_metadata_traffic_through_the_registry_never_reaches_the_streaming_node(pair: Pair, project: str) -> None:
    before = len(pair.seen(pair.streaming))
    glance = _glance(pair.registry, project)
    image = glance.images.create(name="meta-only", disk_format="qcow2", container_format="bare")
    glance.images.update(image["id"], name="renamed", purpose="testing")
    glance.image_tags.update(image["id"], "tagged")
    assert [i["id"] for i in glance.images.list(filters={"name": "renamed"})] == [image["id"]]
    sdk = _sdk(pair.registry, project)
    assert sdk.image.get_image(image["id"]).name == "renamed"
    sdk.image.update_image(image["id"], min_ram=512)
    assert [i.id for i in sdk.image.images(name="renamed")] == [image["id"]]
    sdk.image.delete_image(image["id"])
    assert pair.seen(pair.streaming)[before:] == []
    # The count does see requests that do reach the streaming node.
    assert httpx.get(f"{pair.streaming.url}/v2/images/{image['id']}").status_code == 404
    assert pair.seen(pair.streaming)[before:] == [("GET", f"/v2/images/{image['id']}", 404)]


def test_glanceclient_works_through_the_streaming_node(pair: Pair, project: str) -> None:
    glance = _glance(pair.streaming, project)
    registry_before = len(pair.seen(pair.registry))
    image = glance.images.create(name="via-streaming", disk_format="raw", container_format="bare")
    glance.images.upload(image["id"], io.BytesIO(DATA))
    shown = glance.images.get(image["id"])
    assert (shown["status"], shown["size"]) == ("active", len(DATA))
    assert b"".join(glance.images.data(image["id"])) == DATA
    glance.images.update(image["id"], name="renamed")
    glance.images.delete(image["id"])
    writes = [(m, s) for m, p, s in pair.seen(pair.registry)[registry_before:] if m in ("POST", "PATCH", "DELETE")]
    assert writes == [("POST", 201), ("PATCH", 200), ("DELETE", 204)]  # followed the 307s


def test_glanceclient_downloads_through_the_registry_but_must_upload_to_a_streaming_node(
        pair: Pair, project: str) -> None:
    glance = _glance(pair.registry, project)
    image = glance.images.create(name="via-registry", disk_format="raw", container_format="bare")
    # requests follows the 307 of a chunked PUT but cannot send the consumed body again.
    with pytest.raises(glance_exc.HTTPBadRequest, match="did not send the data again"):
        glance.images.upload(image["id"], io.BytesIO(DATA))
    assert glance.images.get(image["id"])["status"] == "queued"
    _glance(pair.streaming, project).images.upload(image["id"], io.BytesIO(DATA))
    assert b"".join(glance.images.data(image["id"])) == DATA  # the GET 307 is followed


@pytest.mark.parametrize("role", ["registry", "streaming"])
def test_openstacksdk_works_through_either_node(pair: Pair, project: str, role: str) -> None:
    sdk = _sdk(pair.registry if role == "registry" else pair.streaming, project)
    image = sdk.image.create_image(name=f"sdk-{role}", disk_format="raw", container_format="bare",
                                   allow_duplicates=True)
    image.data = io.BytesIO(DATA)
    image.upload(sdk.image)  # a Content-Length PUT: keystoneauth sends the file again after the 307
    shown = sdk.image.get_image(image.id)
    assert (shown.status, shown.size) == ("active", len(DATA))
    assert shown.checksum == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    assert sdk.image.download_image(image.id).content == DATA
    sdk.image.update_image(image.id, name="renamed")
    assert sdk.image.get_image(image.id).name == "renamed"
    sdk.image.delete_image(image.id)


def test_templates_are_served_by_the_registry_and_writes_to_a_streaming_node_are_redirected(pair: Pair) -> None:
    headers = {"X-Project-Id": uuid.uuid4().hex}
    registry = httpx.Client(base_url=pair.registry.url, headers=headers)
    streaming = httpx.Client(base_url=pair.streaming.url, headers=headers)
    image = registry.post("/v2/images", json={"name": "t", "disk_format": "raw", "container_format": "bare"}).json()
    assert streaming.put(f"/v2/images/{image['id']}/file", content=DATA,
                         headers={"Content-Type": "application/octet-stream"}).status_code == 204
    body = {"name": "roles", "version": "1.0.0", "image_id": image["id"], "user_data": "#cloud-config\n{}\n"}
    redirected = streaming.post("/v2/templates", json=body)
    assert redirected.status_code == 307
    assert redirected.headers["location"].startswith(f"{pair.registry.url}/v2/templates")
    created = registry.post("/v2/templates", json=body)
    assert created.status_code == 201, created.text
    assert streaming.get(f"/v2/templates/{created.json()['id']}").status_code == 200
