"""The glimpseclient library against a live Glimpse server: records, tags, members, schemas, errors."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import pytest

import glimpseclient
from glimpseclient import Client
from tests.client.conftest import MiB
from tests.client.proxy import Proxy
from tests.conftest import Server


def test_full_image_life_cycle(client: Client, image_file: Path, project: str, tmp_path: Path) -> None:
    data = image_file.read_bytes()
    image = client.images.create(name="life", disk_format="raw", container_format="bare", os_distro="cirros",
                                 tags=["one"], min_ram=64)
    assert isinstance(image, glimpseclient.Image)
    assert (image.status, image.owner, image.min_ram, image.tags) == ("queued", project, 64, ["one"])
    assert image.properties == {"os_distro": "cirros"}

    client.images.upload(image.id, image_file)
    active = client.images.get(image.id)
    assert active.status == "active" and active.size == len(data)
    assert active.os_hash_algo == "sha512" and active.os_hash_value == hashlib.sha512(data).hexdigest()
    assert active.checksum == hashlib.md5(data).hexdigest()

    target = tmp_path / "copy.raw"
    assert client.images.download_to(image.id, target).id == image.id
    assert target.read_bytes() == data
    assert not (tmp_path / "copy.raw.part").exists()

    updated = client.images.update(image.id, set={"name": "renamed", "os_version": "0.6", "min_disk": 2},
                                   remove=["os_distro"])
    assert (updated.name, updated.min_disk, updated.properties) == ("renamed", 2, {"os_version": "0.6"})

    client.images.add_tag(image.id, "two")
    client.images.remove_tag(image.id, "one")
    assert client.images.get(image.id).tags == ["two"]

    client.images.deactivate(image.id)
    assert client.images.get(image.id).status == "deactivated"
    client.images.reactivate(image.id)
    assert client.images.get(image.id).status == "active"

    client.images.delete(image.id)
    with pytest.raises(glimpseclient.NotFound):
        client.images.get(image.id)


def test_upload_from_an_iterable_is_sent_chunked_and_reports_progress(proxied: Client,
                                                                       proxy: Proxy) -> None:
    chunks = [bytes([n]) * (256 * 1024 + n) for n in range(9)]
    seen: list[tuple[int, int | None]] = []
    image = proxied.images.create(name="chunked", disk_format="raw", container_format="bare")
    total = sum(len(c) for c in chunks)
    proxied.images.upload(image.id, iter(chunks), size=total, progress=lambda done, total: seen.append((done, total)))
    _, _, headers = next(r for r in proxy.requests if r[0] == "PUT")
    assert headers.get("transfer-encoding") == "chunked" and "content-length" not in headers
    assert headers["x-openstack-image-size"] == str(total)  # declared, so the server can check it
    assert seen[-1] == (total, total) and len(seen) == len(chunks)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    with proxied.images.download(image.id) as download:
        assert b"".join(download) == b"".join(chunks)


def test_upload_from_a_file_object_sends_its_length(proxied: Client, proxy: Proxy, image_file: Path) -> None:
    image = proxied.images.create(name="sized", disk_format="raw", container_format="bare")
    with image_file.open("rb") as f:
        proxied.images.upload(image.id, f)
    _, _, headers = next(r for r in proxy.requests if r[0] == "PUT")
    size = str(image_file.stat().st_size)
    assert headers["content-length"] == size and headers["x-openstack-image-size"] == size
    assert proxied.images.get(image.id).size == image_file.stat().st_size


def test_download_streams_in_chunks_and_verifies(client: Client) -> None:
    data = bytes(range(256)) * (4 * 4096 + 3)
    image = client.images.create(name="chunks", disk_format="raw", container_format="bare")
    client.images.upload(image.id, data)
    progress: list[int] = []
    with client.images.download(image.id, progress=lambda done, total: progress.append(done)) as download:
        chunks = list(download)
    assert b"".join(chunks) == data
    assert max(len(c) for c in chunks) <= 1 * MiB and len(chunks) >= 4
    assert progress[-1] == len(data)


def test_download_of_an_image_without_data_says_so(client: Client) -> None:
    image = client.images.create(name="empty", disk_format="raw", container_format="bare")
    with pytest.raises(glimpseclient.NoImageData, match="has no data"):
        client.images.download_to(image.id, io.BytesIO())


def test_list_follows_pages_filters_and_limits(client: Client) -> None:
    tag = uuid.uuid4().hex
    ids = {client.images.create(name=f"page-{n}", disk_format="raw", container_format="bare", tags=[tag]).id
           for n in range(7)}
    assert {i.id for i in client.images.list(page_size=2, tags=[tag])} == ids
    assert len(list(client.images.list(limit=3, page_size=2, tags=[tag]))) == 3
    named = list(client.images.list(name="page-3"))
    assert [i.name for i in named] == ["page-3"]
    ordered = [i.name for i in client.images.list(tags=[tag], sort="name:asc")]
    assert ordered == sorted(ordered)


def test_members_share_an_image_between_projects(glimpse: Server, client: Client) -> None:
    other = uuid.uuid4().hex
    image = client.images.create(name="shared", disk_format="raw", container_format="bare", visibility="shared")
    member = client.members.create(image.id, other)
    assert (member.image_id, member.member_id, member.status) == (image.id, other, "pending")
    with Client(glimpse.url, project_id=other) as theirs:
        assert image.id not in {i.id for i in theirs.images.list()}
        assert theirs.members.update(image.id, other, "accepted").status == "accepted"
        assert image.id in {i.id for i in theirs.images.list()}
        with pytest.raises(glimpseclient.Forbidden):
            theirs.images.update(image.id, set={"name": "mine now"})
    assert [m.member_id for m in client.members.list(image.id)] == [other]
    assert client.members.get(image.id, other).status == "accepted"
    client.members.delete(image.id, other)
    assert client.members.list(image.id) == []


def test_schemas_info_and_versions(client: Client) -> None:
    assert client.schemas.get("image")["name"] == "image"
    assert "members" in client.schemas.get("members")["properties"]
    stores = client.info.stores()
    assert [s.id for s in stores] == ["file"] and stores[0].default
    assert isinstance(client.info.import_methods(), list)
    assert client.info.usage()["image_count_total"] == {"limit": -1, "usage": 0}
    versions = client.versions()
    assert any(v.status == "CURRENT" and v.id.startswith("v2.") for v in versions)


def test_errors_are_typed_and_carry_status_message_and_request_id(client: Client) -> None:
    with pytest.raises(glimpseclient.NotFound) as missing:
        client.images.get("no-such-image")
    error = missing.value
    assert error.status == 404 and "no-such-image" in error.message
    assert error.request_id and error.request_id.startswith("req-")
    assert isinstance(error, glimpseclient.APIError) and isinstance(error, glimpseclient.GlimpseClientError)

    with pytest.raises(glimpseclient.BadRequest, match="min_ram|-1"):
        client.images.create(name="bad", min_ram=-1)
    image = client.images.create(name="protected", protected=True, disk_format="raw", container_format="bare")
    with pytest.raises(glimpseclient.Forbidden, match="protected"):
        client.images.delete(image.id)
    with pytest.raises(glimpseclient.Conflict):
        client.images.create(id=image.id, name="duplicate")
    client.images.update(image.id, set={"protected": False})
    client.images.delete(image.id)


def test_upload_to_an_active_image_is_a_conflict_and_changes_nothing(client: Client) -> None:
    image = client.images.create(name="once", disk_format="raw", container_format="bare")
    client.images.upload(image.id, b"first")
    with pytest.raises(glimpseclient.Conflict):
        client.images.upload(image.id, b"second")
    with client.images.download(image.id) as download:
        assert b"".join(download) == b"first"
