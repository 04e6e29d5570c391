"""The same client against OpenStack Glance itself (the peer on 127.0.0.1:19292, when it runs).

Start it with /work/shared/peer (``GLANCE_CONTEXT=headers``, so identity comes
from X-Project-Id as with Glimpse); these tests skip, saying so, when it is not there.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import glimpseclient
from glimpseclient import Client
from tests.client.proxy import Proxy

GLANCE_URL = os.environ.get("GLIMPSE_TEST_GLANCE_URL", "http://127.0.0.1:19292")


def _reachable(url: str) -> bool:
    host, _, port = url.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port.rstrip("/") or 80)), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _reachable(GLANCE_URL),
                                reason=f"no Glance peer at {GLANCE_URL} (see /work/shared/peer/README.md)")


@pytest.fixture
def glance() -> Iterator[Client]:
    with Client(GLANCE_URL, project_id=uuid.uuid4().hex, backoff=0.05) as client:
        yield client


@pytest.fixture
def cleanup(glance: Client) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    for image_id in created:
        try:
            glance.images.delete(image_id)
        except glimpseclient.NotFound:
            pass


def test_life_cycle_against_glance(glance: Client, cleanup: list[str], tmp_path: Path) -> None:
    assert any(v.status == "CURRENT" for v in glance.versions())
    assert glance.endpoints.registry == glance.endpoints.streaming == GLANCE_URL
    data = os.urandom(2 * 1024 * 1024 + 99)
    image = glance.images.create(name="glance-life", disk_format="raw", container_format="bare", os_distro="x")
    cleanup.append(image.id)
    glance.images.upload(image.id, iter([data[:1000], data[1000:]]))
    active = glance.images.get(image.id)
    assert (active.status, active.size, active.os_hash_algo) == ("active", len(data), "sha512")
    assert glance.images.download_to(image.id, tmp_path / "copy").id == image.id
    assert (tmp_path / "copy").read_bytes() == data
    updated = glance.images.update(image.id, set={"name": "renamed", "os_version": "2"}, remove=["os_distro"])
    assert (updated.name, updated.properties) == ("renamed", {"os_version": "2"})
    glance.images.add_tag(image.id, "t")
    assert glance.images.get(image.id).tags == ["t"]
    glance.images.deactivate(image.id)
    glance.images.reactivate(image.id)
    glance.images.delete(image.id)
    with pytest.raises(glimpseclient.NotFound) as missing:
        glance.images.get(image.id)
    assert missing.value.request_id and missing.value.request_id.startswith("req-")
    assert "<br" not in missing.value.message and image.id in missing.value.message


def test_a_cut_glance_download_resumes(glance: Client, cleanup: list[str], tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    image = glance.images.create(name="glance-resume", disk_format="raw", container_format="bare")
    cleanup.append(image.id)
    glance.images.upload(image.id, data)
    proxy = Proxy(GLANCE_URL)
    try:
        proxy.cut_download_after = 1024 * 1024 + 7
        with Client(proxy.url, project_id=image.owner) as through:
            with through.images.download(image.id) as download:
                download.save(tmp_path / "resumed")
                assert download.resumed == 1
    finally:
        proxy.stop()
    assert (tmp_path / "resumed").read_bytes() == data


def test_stage_and_glance_direct_import_against_glance(glance: Client, cleanup: list[str]) -> None:
    if "glance-direct" not in glance.info.import_methods():
        pytest.skip("glance-direct is not enabled on the Glance peer")
    image = glance.images.create(name="glance-import", disk_format="raw", container_format="bare")
    cleanup.append(image.id)
    glance.images.stage(image.id, b"staged bytes" * 1000)
    assert glance.images.get(image.id).status == "uploading"
    glance.images.import_image(image.id, "glance-direct")
    deadline = time.monotonic() + 60
    while glance.images.get(image.id).status != "active":
        assert time.monotonic() < deadline, "import did not finish"
        time.sleep(0.3)
    assert [t.type for t in glance.images.tasks(image.id)] == ["api_image_import"]
    with glance.images.download(image.id) as download:
        assert b"".join(download) == b"staged bytes" * 1000


def test_metadefs_and_members_against_glance(glance: Client, cleanup: list[str]) -> None:
    namespaces = list(glance.metadefs.list_namespaces(limit=5))
    assert namespaces and all(isinstance(n, glimpseclient.Namespace) for n in namespaces)
    detail = glance.metadefs.get_namespace(namespaces[0].namespace)
    assert detail.namespace == namespaces[0].namespace
    assert glance.metadefs.list_resource_types()
    image = glance.images.create(name="glance-share", visibility="shared")
    cleanup.append(image.id)
    other = uuid.uuid4().hex
    assert glance.members.create(image.id, other).status == "pending"
    assert [m.member_id for m in glance.members.list(image.id)] == [other]
