"""``glimpse image import``: stage and import in one command, copy-image to stores, ``--wait`` on the task."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.test_cli import as_json, ok, run
from tests.conftest import Server, start_server


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("cli-import")
    stores = {"file": {"driver": "filesystem", "path": str(root / "file")},
              "cold": {"driver": "filesystem", "path": str(root / "cold")}}
    server = start_server(root / "node", env={"GLIMPSE_STORES": json.dumps(stores)})
    yield server
    server.stop()


def test_stage_import_and_copy_with_wait(two_stores: Server, tmp_path: Path) -> None:
    project = uuid.uuid4().hex
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"cli import " * 4096)
    created = as_json(run(two_stores.url, project, "image", "create", "--name", "cli-import", "--disk-format", "raw",
                          "--container-format", "bare", "-f", "json"))
    assert isinstance(created, dict)
    imported = as_json(run(two_stores.url, project, "image", "import", created["id"], "--file", str(disk),
                           "--wait", "-f", "json"))
    assert isinstance(imported, dict)
    assert imported["status"] == "active" and imported["size"] == disk.stat().st_size
    assert imported["stores"] == "file"
    copied = as_json(run(two_stores.url, project, "image", "import", created["id"], "--method", "copy-image",
                         "--store", "cold", "--wait", "-f", "json"))
    assert isinstance(copied, dict) and copied["stores"] == "file,cold"


def test_a_failed_import_exits_non_zero_with_the_task_message(two_stores: Server) -> None:
    project = uuid.uuid4().hex
    created = as_json(run(two_stores.url, project, "image", "create", "--name", "doomed", "--disk-format", "raw",
                          "--container-format", "bare", "-f", "json"))
    assert isinstance(created, dict)
    failed = run(two_stores.url, project, "image", "import", created["id"], "--method", "web-download",
                 "--uri", "http://localhost/nothing", "--wait")
    assert failed.returncode == 1
    assert b"failed: The import URL could not be fetched" in failed.stderr


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    remote = start_server(tmp_path_factory.mktemp("cli-region-two"))
    local = start_server(tmp_path_factory.mktemp("cli-region-one"), env={
        "GLIMPSE_IMPORT_METHODS": '["glance-direct", "glance-download"]',
        "GLIMPSE_GLANCE_DOWNLOAD_ENDPOINTS": json.dumps({"RegionTwo": remote.url}),
        "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]", "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'})
    try:
        yield local, remote
    finally:
        local.stop()
        remote.stop()


def test_glance_download_with_wait(two_regions: tuple[Server, Server], tmp_path: Path) -> None:
    local, remote = two_regions
    project = uuid.uuid4().hex
    disk = tmp_path / "far.raw"
    disk.write_bytes(b"from afar " * 2048)
    source = as_json(run(remote.url, project, "image", "create", "--name", "far", "--disk-format", "raw",
                         "--container-format", "bare", "-f", "json"))
    assert isinstance(source, dict)
    ok(run(remote.url, project, "image", "import", source["id"], "--file", str(disk), "--wait"))
    target = as_json(run(local.url, project, "image", "create", "--name", "near", "--disk-format", "raw",
                         "--container-format", "bare", "-f", "json"))
    assert isinstance(target, dict)
    imported = as_json(run(local.url, project, "image", "import", target["id"], "--method", "glance-download",
                           "--remote-region", "RegionTwo", "--remote-image-id", source["id"], "--wait",
                           "-f", "json"))
    assert isinstance(imported, dict)
    assert imported["status"] == "active" and imported["size"] == disk.stat().st_size
    misplaced = run(local.url, project, "image", "import", target["id"], "--remote-region", "RegionTwo")
    assert misplaced.returncode != 0 and b"glance-download" in misplaced.stderr
