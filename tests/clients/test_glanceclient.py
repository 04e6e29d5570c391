"""python-glanceclient (v2 Client and the ``glance`` CLI) against a live server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from glanceclient import Client
from glanceclient import exc as glance_exc

from tests.conftest import Server

MiB = 1024 * 1024


@pytest.fixture
def glance(server: Server, project: str) -> Client:
    return Client("2", endpoint=server.url, token="unused", identity_headers={"X-Project-Id": project})


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "disk.raw"
    path.write_bytes(os.urandom(4 * MiB + 321))
    return path


def test_full_life_cycle(glance: Client, image_file: Path, project: str) -> None:
    data = image_file.read_bytes()
    image = glance.images.create(name="gc-life", disk_format="raw", container_format="bare",
                                 os_distro="cirros", tags=["one"], min_ram=64)
    assert image["status"] == "queued" and image["owner"] == project
    with image_file.open("rb") as f:
        glance.images.upload(image["id"], f, image_size=len(data))
    shown = glance.images.get(image["id"])
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()

    downloaded = b"".join(glance.images.data(image["id"]))  # verifies os_hash_value as it goes
    assert downloaded == data

    updated = glance.images.update(image["id"], name="gc-renamed", color="red", remove_props=["os_distro"])
    assert updated["name"] == "gc-renamed" and updated["color"] == "red" and "os_distro" not in updated

    glance.image_tags.update(image["id"], "two")
    glance.image_tags.delete(image["id"], "one")
    assert glance.images.get(image["id"])["tags"] == ["two"]

    listed = list(glance.images.list(filters={"tag": ["two"], "owner": project}))
    assert [i["id"] for i in listed] == [image["id"]]

    glance.images.deactivate(image["id"])
    assert glance.images.get(image["id"])["status"] == "deactivated"
    glance.images.reactivate(image["id"])
    assert glance.images.get(image["id"])["status"] == "active"

    glance.images.delete(image["id"])
    with pytest.raises(glance_exc.HTTPNotFound):
        glance.images.get(image["id"])


def test_list_follows_pages_and_filters(glance: Client, project: str) -> None:
    batch = uuid.uuid4().hex
    ids = {glance.images.create(name=f"page-{i}", batch=batch, disk_format="raw",
                                container_format="bare")["id"] for i in range(7)}
    listed = list(glance.images.list(page_size=2, filters={"batch": batch}))
    assert {i["id"] for i in listed} == ids
    ordered = [i["name"] for i in glance.images.list(page_size=3, filters={"batch": batch},
                                                     sort_key="name", sort_dir="asc")]
    assert ordered == sorted(ordered)
    limited = list(glance.images.list(limit=3, filters={"batch": batch}))
    assert len(limited) == 3


def test_errors_surface_as_glanceclient_exceptions(glance: Client) -> None:
    with pytest.raises(glance_exc.HTTPNotFound) as raised:
        glance.images.get(str(uuid.uuid4()))
    assert "No image found" in str(raised.value)
    image = glance.images.create(name="conflict", disk_format="raw", container_format="bare")
    glance.images.upload(image["id"], io.BytesIO(b"once"))
    with pytest.raises(glance_exc.HTTPConflict):
        glance.images.upload(image["id"], io.BytesIO(b"twice"))
    with pytest.raises(glance_exc.HTTPForbidden):
        glance.images.update(image["id"], visibility="public")


def test_members(glance: Client, server: Server) -> None:
    image = glance.images.create(name="shared", disk_format="raw", container_format="bare")
    guest_project = uuid.uuid4().hex
    member = glance.image_members.create(image["id"], guest_project)
    assert member["status"] == "pending"
    guest = Client("2", endpoint=server.url, token="unused", identity_headers={"X-Project-Id": guest_project})
    guest.image_members.update(image["id"], guest_project, "accepted")
    assert [m["status"] for m in glance.image_members.list(image["id"])] == ["accepted"]
    assert image["id"] in {i["id"] for i in guest.images.list(filters={"visibility": "shared"})}
    glance.image_members.delete(image["id"], guest_project)
    with pytest.raises(glance_exc.HTTPNotFound):
        guest.images.get(image["id"])


def test_glance_cli(server: Server, image_file: Path, tmp_path: Path, project: str) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "OS_IMAGE_URL": server.url, "OS_AUTH_TOKEN": "unused"}
    glance_cli = [sys.executable, "-c", "import sys; from glanceclient.shell import main; sys.exit(main())"]

    def run(*args: str) -> str:
        result = subprocess.run([*glance_cli, *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    name = f"cli-{uuid.uuid4().hex[:8]}"
    out = run("image-create", "--name", name, "--disk-format", "raw", "--container-format", "bare",
              "--file", str(image_file), "--property", "os_distro=cirros")
    image_id = next(line.split("|")[2].strip() for line in out.splitlines() if line.startswith("| id "))
    assert "active" in run("image-show", image_id)
    run("image-update", image_id, "--name", f"{name}-2", "--property", "flavour=vanilla")
    shown = run("image-show", image_id)
    assert f"{name}-2" in shown and "vanilla" in shown
    target = tmp_path / "out.raw"
    run("image-download", "--file", str(target), image_id)
    assert target.read_bytes() == image_file.read_bytes()
    assert image_id in run("image-list")
    run("image-delete", image_id)
    assert image_id not in run("image-list")
    json.dumps(out)  # the CLI printed text, not bytes
