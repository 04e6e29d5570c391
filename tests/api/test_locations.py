"""The locations API (2.17): service users register data already in a store; it is read and checked once."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, Server, start_server

SERVICE_ROLES = "service,member,reader"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("location-stores")


@pytest.fixture(scope="module")
def node(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    stores = {"fast": {"driver": "filesystem", "path": str(root / "fast")},
              "archive": {"driver": "filesystem", "path": str(root / "archive"), "read_only": True}}
    server = start_server(tmp_path_factory.mktemp("locations"), env={
        "GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_DEFAULT_STORE": "fast"})
    yield server
    server.stop()


@pytest.fixture
def owner(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex, roles="member,reader")
    yield client
    client.close()


@pytest.fixture
def service(node: Server, owner: Api) -> Iterator[Api]:
    client = Api(node.url, owner.project, roles=SERVICE_ROLES)
    yield client
    client.close()


def placed(root: Path, store: str, data: bytes) -> str:
    """Put ``data`` into a store's directory as another system would; its location URL."""
    key = uuid.uuid4().hex
    (root / store / key).write_bytes(data)
    return (root / store / key).resolve().as_uri()


def add(api: Api, image_id: str, body: dict[str, object]) -> tuple[int, str]:
    response = api.http.post(f"/v2/images/{image_id}/locations", json=body)
    return response.status_code, response.text


def test_a_service_adds_a_location_and_the_data_is_read_once_to_describe_it(
        owner: Api, service: Api, root: Path) -> None:
    data = os.urandom(200_000)
    url = placed(root, "archive", data)
    image = owner.create(name="by-location")
    status, text = add(service, image["id"], {"url": url, "validation_data": {
        "os_hash_algo": "sha512", "os_hash_value": hashlib.sha512(data).hexdigest()}})
    assert status == 202, text
    shown = owner.show(image["id"])
    assert shown["status"] == "active" and shown["size"] == len(data) and shown["virtual_size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert (shown["os_hash_algo"], shown["os_hash_value"]) == ("sha512", hashlib.sha512(data).hexdigest())
    assert "locations" not in shown and "direct_url" not in shown
    assert owner.http.get(f"/v2/images/{image['id']}/file").content == data
    listed = service.http.get(f"/v2/images/{image['id']}/locations")
    assert listed.status_code == 200 and listed.json() == [{"url": url, "metadata": {"store": "archive"}}]
    assert owner.http.get(f"/v2/images/{image['id']}/locations").status_code == 403


def test_only_service_users_add_locations(owner: Api, root: Path) -> None:
    image = owner.create()
    status, text = add(owner, image["id"], {"url": placed(root, "fast", b"x")})
    assert status == 403, text
    assert owner.show(image["id"])["status"] == "queued"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://example.test/image.raw", "rbd://pool/image"])
def test_a_url_outside_the_stores_is_refused_naming_them(owner: Api, service: Api, url: str) -> None:
    image = owner.create()
    status, text = add(service, image["id"], {"url": url})
    assert status == 400 and "fast" in text and "archive" in text, text
    assert owner.show(image["id"])["status"] == "queued"


def test_a_url_that_escapes_a_store_directory_is_refused(owner: Api, service: Api, root: Path) -> None:
    (root / "outside").write_bytes(b"secret")
    image = owner.create()
    for url in [(root / "fast").resolve().as_uri() + "/../outside", (root / "fast").resolve().as_uri() + "/.hidden"]:
        status, text = add(service, image["id"], {"url": url})
        assert status == 400, text
    assert owner.show(image["id"])["status"] == "queued"


def test_a_missing_object_or_wrong_validation_data_leaves_the_image_queued(
        owner: Api, service: Api, root: Path) -> None:
    image = owner.create()
    status, text = add(service, image["id"], {"url": (root / "fast").resolve().as_uri() + "/nothing-here"})
    assert status == 400 and "nothing-here" in text
    url = placed(root, "fast", b"real data")
    status, text = add(service, image["id"], {"url": url, "validation_data": {"checksum": "0" * 32}})
    assert status == 400 and "MD5" in text
    assert owner.show(image["id"])["status"] == "queued"
    assert (root / "fast" / url.rsplit("/", 1)[1]).read_bytes() == b"real data"
    for bad in [{"os_hash_algo": "sha512"}, {"os_hash_algo": "crc32", "os_hash_value": "00"},
                {"os_hash_algo": "sha256", "os_hash_value": "xyz"}, {"extra": 1}]:
        status, text = add(service, image["id"], {"url": url, "validation_data": bad})
        assert status == 400, (bad, text)
    assert add(service, image["id"], {"url": url})[0] == 202


def test_unsafe_data_at_a_location_fails_the_format_gate(owner: Api, service: Api, root: Path) -> None:
    header = b"QFI\xfb" + struct.pack(">IQ", 3, 0x200) + bytes(12) + struct.pack(">Q", 1 << 30)
    url = placed(root, "archive", header.ljust(65536, b"\0") + b"/etc/shadow")
    image = owner.create(disk_format="qcow2")
    status, text = add(service, image["id"], {"url": url})
    assert status == 400 and "backing file" in text
    assert owner.show(image["id"])["status"] == "queued"


def test_a_location_goes_to_a_queued_image_and_one_object_to_one_image(
        owner: Api, service: Api, root: Path) -> None:
    url = placed(root, "fast", b"shared")
    first = owner.create()
    assert add(service, first["id"], {"url": url})[0] == 202
    assert add(service, first["id"], {"url": placed(root, "fast", b"more")})[0] == 409
    second = owner.create()
    status, text = add(service, second["id"], {"url": url})
    assert status == 409 and first["id"] in text


def test_legacy_location_patches_stay_refused(owner: Api) -> None:
    image = owner.create()
    response = owner.patch(image["id"], [{"op": "add", "path": "/locations/-",
                                          "value": {"url": "file:///etc/passwd", "metadata": {}}}])
    assert response.status_code == 403


def test_version_2_17_is_advertised(owner: Api) -> None:
    versions = owner.http.get("/versions").json()["versions"]
    assert next(v for v in versions if v["status"] == "CURRENT")["id"] == "v2.17"


def test_glanceclient_adds_and_lists_locations(node: Server, owner: Api, root: Path) -> None:
    from glanceclient import Client

    glance = Client("2", endpoint=node.url, token="x",
                    identity_headers={"X-Project-Id": owner.project, "X-Roles": SERVICE_ROLES})
    image = glance.images.create(name="gc-location", disk_format="raw", container_format="bare")
    url = placed(root, "fast", b"through glanceclient")
    added = glance.images.add_image_location(image["id"], url)
    assert added["status"] == "active" and added["checksum"] == hashlib.md5(b"through glanceclient").hexdigest()
    assert list(glance.images.get_image_locations(image["id"])) == [{"url": url, "metadata": {"store": "fast"}}]
