"""PUT/GET /v2/images/{id}/file: streaming, hashes, ranges, the status machine and failures."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import Api, Server, start_server, on_both_server_paths

#: Every test here runs with the server's fast paths and again on plain uvicorn + Starlette.
server = on_both_server_paths()

MiB = 1024 * 1024


def stored_files(server: Server) -> list[str]:
    return sorted(os.listdir(server.data_dir / "images"))


def test_sized_upload_then_download_round_trip(api: Api) -> None:
    data = os.urandom(3 * MiB + 17)
    image = api.create(name="sized")
    response = api.upload(image["id"], data)
    assert response.status_code == 204 and response.content == b"", response.text
    shown = api.show(image["id"])
    assert shown["status"] == "active"
    assert shown["size"] == len(data) == shown["virtual_size"]
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    response = api.http.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-md5"] == shown["checksum"]
    assert response.content == data


def test_chunked_upload_with_declared_size(api: Api) -> None:
    parts = [os.urandom(700_000) for _ in range(5)]
    image = api.create()
    response = api.http.put(f"/v2/images/{image['id']}/file", content=iter(parts),
                            headers={"Content-Type": "application/octet-stream",
                                     "x-openstack-image-size": str(sum(map(len, parts)))})
    assert response.status_code == 204
    assert api.http.get(f"/v2/images/{image['id']}/file").content == b"".join(parts)


def test_chunked_upload_without_any_size(api: Api) -> None:
    parts = [b"a" * 1000, b"b" * 3000]
    image = api.create()
    response = api.http.put(f"/v2/images/{image['id']}/file", content=iter(parts),
                            headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 204
    assert api.show(image["id"])["size"] == 4000


def test_empty_image(api: Api) -> None:
    image = api.create()
    assert api.upload(image["id"], b"").status_code == 204
    shown = api.show(image["id"])
    assert shown["status"] == "active" and shown["size"] == 0
    assert shown["checksum"] == hashlib.md5(b"").hexdigest()
    response = api.http.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200 and response.content == b""
    assert api.http.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=0-"}).status_code == 416


def test_download_without_data_is_204(api: Api) -> None:
    image = api.create()
    response = api.http.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 204 and response.content == b"", response.text


@pytest.mark.parametrize("header,status,expected,content_range", [
    ("bytes=0-9", 206, slice(0, 10), "bytes 0-9/100"),
    ("bytes=90-", 206, slice(90, 100), "bytes 90-99/100"),
    ("bytes=-5", 206, slice(95, 100), "bytes 95-99/100"),
    ("bytes=50-500", 206, slice(50, 100), "bytes 50-99/100"),
    ("bytes=99-99", 206, slice(99, 100), "bytes 99-99/100"),
    ("bytes=-500", 206, slice(0, 100), "bytes 0-99/100"),
])
def test_single_ranges(api: Api, header: str, status: int, expected: slice, content_range: str) -> None:
    data = bytes(range(100))
    image = api.create()
    api.upload(image["id"], data)
    response = api.http.get(f"/v2/images/{image['id']}/file", headers={"Range": header})
    assert response.status_code == status
    assert response.content == data[expected]
    assert response.headers["content-range"] == content_range
    assert response.headers["content-length"] == str(len(data[expected]))
    assert "content-md5" not in response.headers


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300", "bytes=-0", "bytes=5-2", "bytes=x-y",
                                    "items=0-5", "bytes=-"])
def test_unsatisfiable_ranges_are_416(api: Api, header: str) -> None:
    image = api.create()
    api.upload(image["id"], bytes(100))
    response = api.http.get(f"/v2/images/{image['id']}/file", headers={"Range": header})
    assert response.status_code == 416, header
    if header in ("bytes=100-", "bytes=200-300", "bytes=-0"):
        assert response.headers["content-range"] == "bytes */100"


def test_multiple_ranges_are_400(api: Api) -> None:
    image = api.create()
    api.upload(image["id"], bytes(100))
    response = api.http.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=0-1,5-6"})
    assert response.status_code == 400


def test_legacy_content_range_request_header(api: Api) -> None:
    data = bytes(range(100))
    image = api.create()
    api.upload(image["id"], data)
    response = api.http.get(f"/v2/images/{image['id']}/file", headers={"Content-Range": "bytes 10-19/*"})
    assert response.status_code == 206 and response.content == data[10:20]


def test_upload_needs_octet_stream(api: Api) -> None:
    image = api.create()
    for content_type in ("application/json", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = api.http.put(f"/v2/images/{image['id']}/file", content=b"x", headers=headers)
        assert response.status_code == 415
    assert api.show(image["id"])["status"] == "queued"


def test_non_integer_size_header_is_400(api: Api) -> None:
    image = api.create()
    response = api.upload(image["id"], b"abc", **{"x-openstack-image-size": "three"})
    assert response.status_code == 400
    assert api.show(image["id"])["status"] == "queued"


def test_size_mismatch_is_400_and_image_back_to_queued(api: Api, server: Server) -> None:
    image = api.create()
    response = api.upload(image["id"], b"abcdef", **{"x-openstack-image-size": "10"})
    assert response.status_code == 400
    assert "10" in response.json()["message"]
    shown = api.show(image["id"])
    assert shown["status"] == "queued" and shown["size"] is None and shown["checksum"] is None
    assert image["id"] not in stored_files(server)
    response = api.upload(image["id"], b"abcdef", **{"x-openstack-image-size": "3"})
    assert response.status_code == 400
    assert api.upload(image["id"], b"abcdef").status_code == 204


def test_formats_must_be_set_before_upload(api: Api) -> None:
    response = api.http.post("/v2/images", json={"name": "no formats"})
    image = response.json()
    response = api.upload(image["id"], b"data")
    assert response.status_code == 400
    assert "disk_format" in response.json()["message"]
    assert api.show(image["id"])["status"] == "queued"


def test_second_upload_to_active_image_is_409(api: Api) -> None:
    image = api.create()
    assert api.upload(image["id"], b"one").status_code == 204
    response = api.upload(image["id"], b"two")
    assert response.status_code == 409
    assert api.http.get(f"/v2/images/{image['id']}/file").content == b"one"


def test_concurrent_uploads_exactly_one_wins(api: Api, server: Server) -> None:
    image = api.create()
    release = threading.Event()
    results: dict[str, int] = {}

    def slow_body() -> Iterator[bytes]:
        yield b"a" * 65536
        release.wait(30)
        yield b"b" * 65536

    def first() -> None:
        client = httpx.Client(base_url=server.url, headers={"X-Project-Id": api.project}, timeout=60)
        results["first"] = client.put(f"/v2/images/{image['id']}/file", content=slow_body(),
                                      headers={"Content-Type": "application/octet-stream"}).status_code

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 20
    while api.show(image["id"])["status"] != "saving":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    second = api.upload(image["id"], b"c" * 1000)
    release.set()
    thread.join(30)
    assert second.status_code == 409
    assert "saving" in second.json()["message"]
    assert results["first"] == 204
    assert api.http.get(f"/v2/images/{image['id']}/file").content == b"a" * 65536 + b"b" * 65536


def test_many_racing_uploads_one_wins(api: Api, server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    image = api.create()

    def put(i: int) -> int:
        with httpx.Client(base_url=server.url, headers={"X-Project-Id": api.project}, timeout=60) as client:
            return client.put(f"/v2/images/{image['id']}/file", content=bytes([i]) * 200_000,
                              headers={"Content-Type": "application/octet-stream"}).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(put, range(6)))
    assert codes.count(204) == 1 and codes.count(409) == 5
    data = api.http.get(f"/v2/images/{image['id']}/file").content
    assert len(data) == 200_000 and len(set(data)) == 1


def _raw_upload(server: Server, project: str, image_id: str, head: bytes, declared: int) -> None:
    """Send ``head`` of a ``declared``-byte upload and hang up."""
    parsed = urlparse(server.url)
    with socket.create_connection((parsed.hostname, parsed.port)) as sock:
        sock.sendall(
            f"PUT /v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\nX-Project-Id: {project}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n".encode() + head
        )
        time.sleep(0.3)


def test_client_disconnect_mid_upload_leaves_no_data(api: Api, server: Server) -> None:
    image = api.create()
    _raw_upload(server, api.project, image["id"], b"x" * 300_000, 5_000_000)
    deadline = time.monotonic() + 20
    while api.show(image["id"])["status"] != "queued" or any(image["id"] in f for f in stored_files(server)):
        assert time.monotonic() < deadline, (api.show(image["id"]), stored_files(server))
        time.sleep(0.05)
    assert api.show(image["id"])["size"] is None
    assert api.upload(image["id"], b"retry").status_code == 204
    assert api.http.get(f"/v2/images/{image['id']}/file").content == b"retry"


def test_delete_during_upload_is_410_and_leaves_no_data(api: Api, server: Server) -> None:
    image = api.create()
    release = threading.Event()
    result: dict[str, httpx.Response] = {}

    def body() -> Iterator[bytes]:
        yield b"a" * 100_000
        release.wait(30)
        yield b"b" * 100_000

    def upload() -> None:
        with httpx.Client(base_url=server.url, headers={"X-Project-Id": api.project,
                                                         "Accept": "application/json"}, timeout=60) as client:
            result["r"] = client.put(f"/v2/images/{image['id']}/file", content=body(),
                                     headers={"Content-Type": "application/octet-stream"})

    thread = threading.Thread(target=upload)
    thread.start()
    deadline = time.monotonic() + 20
    while api.show(image["id"])["status"] != "saving":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
    release.set()
    thread.join(30)
    assert result["r"].status_code == 410
    assert not any(image["id"] in f for f in stored_files(server))


def test_delete_removes_stored_data(api: Api, server: Server) -> None:
    image = api.create()
    api.upload(image["id"], b"bytes")
    assert image["id"] in stored_files(server)
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert image["id"] not in stored_files(server)
    assert api.http.get(f"/v2/images/{image['id']}/file").status_code == 404


def test_other_project_cannot_upload(api: Api) -> None:
    image = api.create(visibility="community")
    other = api.as_project(uuid.uuid4().hex)
    assert other.upload(image["id"], b"x").status_code == 403
    private = api.create(visibility="private")
    assert other.upload(private["id"], b"x").status_code == 404


def test_deactivated_image_download_is_403_for_non_admin(api: Api, admin: Api) -> None:
    image = api.create()
    api.upload(image["id"], b"secret")
    assert api.http.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    response = api.http.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 403
    assert "deactivated" in response.json()["message"]
    assert admin.http.get(f"/v2/images/{image['id']}/file").content == b"secret"
    assert api.http.post(f"/v2/images/{image['id']}/actions/reactivate").status_code == 204
    assert api.http.get(f"/v2/images/{image['id']}/file").content == b"secret"


def test_head_of_file_gives_headers_only(api: Api) -> None:
    image = api.create()
    api.upload(image["id"], b"12345")
    response = api.http.head(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200
    assert response.headers["content-length"] == "5"
    assert response.content == b""


def test_data_not_matching_disk_format_is_415_and_back_to_queued(api: Api, server: Server) -> None:
    image = api.create(disk_format="qcow2")
    response = api.upload(image["id"], os.urandom(10000))
    assert response.status_code == 415
    assert "qcow2" in response.json()["message"]
    assert api.show(image["id"])["status"] == "queued"
    assert image["id"] not in stored_files(server)


@pytest.fixture(scope="module")
def small_server(database_url: str, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp(f"small-{backend}"), database_url=database_url,
                       env={"GLIMPSE_IMAGE_SIZE_CAP": str(MiB), "GLIMPSE_HASHING_ALGORITHM": "sha256"})
    yield srv
    srv.stop()


def test_size_cap_is_413_for_declared_size(small_server: Server) -> None:
    api = Api(small_server.url, uuid.uuid4().hex)
    image = api.create()
    response = api.upload(image["id"], b"x" * 10, **{"x-openstack-image-size": str(2 * MiB)})
    assert response.status_code == 413
    assert api.show(image["id"])["status"] == "queued"


def test_size_cap_is_413_while_streaming_chunked(small_server: Server) -> None:
    api = Api(small_server.url, uuid.uuid4().hex)
    image = api.create()
    response = api.http.put(f"/v2/images/{image['id']}/file", content=iter([b"x" * 600_000] * 3),
                            headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 413
    assert api.show(image["id"])["status"] == "queued"
    assert not any(image["id"] in f for f in os.listdir(small_server.data_dir / "images"))


def test_configured_hash_algorithm_is_used(small_server: Server) -> None:
    api = Api(small_server.url, uuid.uuid4().hex)
    image = api.create()
    api.upload(image["id"], b"hash me")
    shown = api.show(image["id"])
    assert shown["os_hash_algo"] == "sha256"
    assert shown["os_hash_value"] == hashlib.sha256(b"hash me").hexdigest()
