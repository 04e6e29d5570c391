"""glance-download: importing an image from another region, here a second Glimpse; URLs under web-download's rules."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_import import finished_task
from tests.conftest import Api, Server, start_server

PEER = "http://127.0.0.1:19292"


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    # the remote region keeps data whatever its format, so that the local check can be the one to refuse it
    remote = start_server(tmp_path_factory.mktemp("region-two"), env={"GLIMPSE_REQUIRE_IMAGE_FORMAT_MATCH": "false"})
    local = start_server(tmp_path_factory.mktemp("region-one"), env={
        "GLIMPSE_IMPORT_METHODS": '["glance-direct", "web-download", "glance-download"]',
        "GLIMPSE_GLANCE_DOWNLOAD_ENDPOINTS": json.dumps({"RegionTwo": remote.url, "Peer": PEER,
                                                         "Metadata": "http://169.254.169.254"}),
        "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]", "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'})
    try:
        yield local, remote
    finally:
        local.stop()
        remote.stop()


def download(api: Api, image_id: str, region: str, remote_id: str) -> httpx.Response:
    return api.http.post(f"/v2/images/{image_id}/import", json={"method": {
        "name": "glance-download", "glance_region": region, "glance_image_id": remote_id,
        "glance_service_interface": "public"}})


def test_an_image_of_another_region_is_imported_with_its_digests(regions: tuple[Server, Server]) -> None:
    local, remote = regions
    project = uuid.uuid4().hex
    there, here = Api(remote.url, project), Api(local.url, project)
    data = b"from region two " * 10000
    source = there.create(disk_format="raw", container_format="bare", min_ram=512, hw_disk_bus="scsi",
                          os_distro="debian", name="far away")
    assert there.upload(source["id"], data).status_code == 204
    assert "glance-download" in here.http.get("/v2/info/import").json()["import-methods"]["value"]
    target = here.create(disk_format="raw", container_format="bare")
    started = download(here, target["id"], "RegionTwo", source["id"])
    assert started.status_code == 202, started.text
    assert finished_task(here, target["id"])["status"] == "success"
    image = here.show(target["id"])
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest() == there.show(source["id"])["os_hash_value"]
    assert here.http.get(f"/v2/images/{target['id']}/file").content == data
    # its metadata came too, as in Glance: custom properties and the settable core ones, not id/name/owner
    assert (image["min_ram"], image["hw_disk_bus"], image["os_distro"]) == (512, "scsi", "debian")
    assert image["id"] == target["id"] and image["name"] != "far away" and image["owner"] == project
    assert not any(key.startswith("os_glance_import") for key in image)


def test_a_failed_download_leaves_the_image_queued_with_its_own_metadata(regions: tuple[Server, Server]) -> None:
    local, remote = regions
    project = uuid.uuid4().hex
    there, here = Api(remote.url, project), Api(local.url, project)
    source = there.create(disk_format="qcow2", container_format="bare", hw_machine_type="q35", min_ram=64)
    assert there.upload(source["id"], b"not a qcow2 image at all" * 100).status_code == 204
    target = here.create(disk_format="raw", container_format="bare", mine="kept")
    assert download(here, target["id"], "RegionTwo", source["id"]).status_code == 202
    task = finished_task(here, target["id"])
    assert task["status"] == "failure" and "qcow2" in task["message"], task
    image = here.show(target["id"])
    assert image["status"] == "queued" and image["checksum"] is None
    assert (image["disk_format"], image["min_ram"], image["mine"]) == ("raw", 0, "kept")
    assert "hw_machine_type" not in image


def test_the_callers_identity_goes_to_the_remote_region(regions: tuple[Server, Server]) -> None:
    """The remote region answers as it would the caller: a private image of another project is not found."""
    local, remote = regions
    owner, stranger = uuid.uuid4().hex, uuid.uuid4().hex
    there = Api(remote.url, owner)
    private = there.create(disk_format="raw", container_format="bare")
    assert there.upload(private["id"], b"not yours").status_code == 204
    here = Api(local.url, stranger)
    target = here.create(disk_format="raw", container_format="bare")
    assert download(here, target["id"], "RegionTwo", private["id"]).status_code == 202
    task = finished_task(here, target["id"])
    assert task["status"] == "failure" and "404" in task["message"], task
    assert here.show(target["id"])["status"] == "queued"
    mine = Api(local.url, owner)
    copy = mine.create(disk_format="raw", container_format="bare")
    assert download(mine, copy["id"], "RegionTwo", private["id"]).status_code == 202
    assert finished_task(mine, copy["id"])["status"] == "success"
    assert mine.http.get(f"/v2/images/{copy['id']}/file").content == b"not yours"


def test_an_unknown_region_is_refused_naming_the_known_ones(regions: tuple[Server, Server]) -> None:
    local, _remote = regions
    api = Api(local.url, uuid.uuid4().hex)
    image = api.create(disk_format="raw", container_format="bare")
    refused = download(api, image["id"], "Atlantis", str(uuid.uuid4()))
    assert refused.status_code == 400 and "RegionTwo" in refused.json()["message"]
    missing = api.http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "glance-download"}})
    assert missing.status_code == 400 and "glance_image_id" in missing.json()["message"]


def test_a_region_endpoint_the_url_rules_refuse_is_never_fetched(regions: tuple[Server, Server]) -> None:
    local, _remote = regions
    api = Api(local.url, uuid.uuid4().hex)
    image = api.create(disk_format="raw", container_format="bare")
    refused = download(api, image["id"], "Metadata", str(uuid.uuid4()))
    assert refused.status_code == 400 and "169.254.169.254" in refused.json()["message"]
    assert api.show(image["id"])["status"] == "queued"


def test_a_remote_image_that_is_missing_or_not_active_fails_the_task(regions: tuple[Server, Server]) -> None:
    local, remote = regions
    project = uuid.uuid4().hex
    there, here = Api(remote.url, project), Api(local.url, project)
    queued = there.create(disk_format="raw", container_format="bare")
    target = here.create(disk_format="raw", container_format="bare")
    assert download(here, target["id"], "RegionTwo", queued["id"]).status_code == 202
    task = finished_task(here, target["id"])
    assert task["status"] == "failure" and "'queued'" in task["message"]
    assert here.show(target["id"])["status"] == "queued"
    assert download(here, target["id"], "RegionTwo", str(uuid.uuid4())).status_code == 202
    task = finished_task(here, target["id"], known=frozenset({task["id"]}))
    assert task["status"] == "failure" and "404" in task["message"]


def test_the_glance_command_imports_from_another_region(regions: tuple[Server, Server]) -> None:
    """``glance image-import --import-method glance-download --remote-region --remote-image-id``."""
    local, remote = regions
    source_api = Api(remote.url)  # no project: public to the header-less callers of both regions
    source = source_api.create(disk_format="raw", container_format="bare")
    assert source_api.upload(source["id"], b"glance cli download").status_code == 204
    here = Api(local.url)
    target = here.create(disk_format="raw", container_format="bare")
    glance = subprocess.run(
        [str(Path(sys.executable).parent / "glance"), "--os-image-url", local.url, "--os-auth-token", "unused",
         "image-import", "--import-method", "glance-download", "--remote-region", "RegionTwo",
         "--remote-image-id", source["id"], "--remote-service-interface", "public", target["id"]],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("OS_")})
    assert glance.returncode == 0, glance.stderr
    assert finished_task(here, target["id"])["status"] == "success"
    assert here.http.get(f"/v2/images/{target['id']}/file").content == b"glance cli download"


def test_glance_download_from_the_openstack_glance_peer(regions: tuple[Server, Server]) -> None:
    """The real Glance peer (headers identity mode) as the remote region: data, digests and metadata."""
    try:
        httpx.get(f"{PEER}/versions", timeout=2)
    except httpx.HTTPError:
        pytest.skip(f"no OpenStack Glance peer at {PEER} (see /work/shared/peer/README.md)")
    local, _remote = regions
    project = uuid.uuid4().hex
    peer = httpx.Client(base_url=PEER, timeout=60, headers={"X-Project-Id": project, "X-Roles": "member,reader",
                                                            "X-User-Id": "peer-user"})
    data = b"from the glance peer " * 5000
    created = peer.post("/v2/images", json={"disk_format": "raw", "container_format": "bare", "name": "peer image",
                                            "hw_qemu_guest_agent": "yes", "min_disk": 1})
    assert created.status_code == 201, created.text
    source = created.json()
    try:
        uploaded = peer.put(f"/v2/images/{source['id']}/file", content=data,
                            headers={"Content-Type": "application/octet-stream"})
        assert uploaded.status_code == 204, uploaded.text
        remote = peer.get(f"/v2/images/{source['id']}").json()
        assert remote["status"] == "active"
        here = Api(local.url, project, roles="member,reader")
        target = here.create(disk_format="raw", container_format="bare")
        started = download(here, target["id"], "Peer", source["id"])
        assert started.status_code == 202, started.text
        task = finished_task(here, target["id"])
        assert task["status"] == "success", task
        image = here.show(target["id"])
        assert image["status"] == "active" and image["size"] == len(data)
        assert image["os_hash_value"] == remote["os_hash_value"] == hashlib.sha512(data).hexdigest()
        assert image["checksum"] == remote["checksum"]
        assert (image["hw_qemu_guest_agent"], image["min_disk"]) == ("yes", 1)
        assert here.http.get(f"/v2/images/{target['id']}/file").content == data
        # another project of the peer cannot read it, so cannot import it
        other = Api(local.url, uuid.uuid4().hex)
        refused = other.create(disk_format="raw", container_format="bare")
        assert download(other, refused["id"], "Peer", source["id"]).status_code == 202
        assert finished_task(other, refused["id"])["status"] == "failure"
    finally:
        peer.delete(f"/v2/images/{source['id']}")
        peer.close()
