"""The image-decompression and image-conversion import plugins through a real server (glance-direct imports)."""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.conftest import Api, Server, start_server
from tests.support.disk_images import MiB, converted, created, raw_with_data, require_qemu_img

ENV = {"GLIMPSE_EXTENSIONS": '["image-import"]', "GLIMPSE_IMPORT_METHODS": '["glance-direct"]',
       "GLIMPSE_IMPORT_PLUGINS": '["image-decompression", "image-conversion"]',
       "GLIMPSE_IMAGE_CONVERSION_OUTPUT_FORMAT": "raw"}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_qemu_img()
    server = start_server(tmp_path_factory.mktemp("plugins"), env=ENV)
    yield server
    server.stop()


@pytest.fixture
def api(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex)
    yield client
    client.close()


def imported(api: Api, data: bytes, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    image = api.create(**fields)
    staged = api.http.put(f"/v2/images/{image['id']}/stage", content=data,
                          headers={"Content-Type": "application/octet-stream"})
    assert staged.status_code == 204, staged.text
    assert api.http.post(f"/v2/images/{image['id']}/import",
                         json={"method": {"name": "glance-direct"}}).status_code == 202
    deadline = time.monotonic() + 60
    while True:
        shown = api.show(image["id"])
        task = api.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][-1]
        if shown["status"] in ("active", "queued") and task["status"] in ("success", "failure"):
            return shown, task
        assert time.monotonic() < deadline, (shown, task)
        time.sleep(0.05)


def downloaded(api: Api, image_id: str) -> bytes:
    response = api.http.get(f"/v2/images/{image_id}/file")
    assert response.status_code == 200
    return response.content


def test_a_qcow2_import_is_converted_to_raw_and_hashed_as_raw(api: Api, tmp_path: Path) -> None:
    source = raw_with_data(tmp_path, "disk.raw")
    qcow2 = converted(tmp_path, "disk.qcow2", "qcow2")
    image, task = imported(api, qcow2.read_bytes(), disk_format="qcow2")
    assert image["status"] == "active", task
    assert image["disk_format"] == "raw" and image["virtual_size"] == image["size"] == source.stat().st_size
    data = downloaded(api, image["id"])
    assert data == source.read_bytes()
    assert image["checksum"] == hashlib.md5(data).hexdigest()


def test_a_hostile_image_is_refused_before_qemu_img_convert_reads_it(api: Api, tmp_path: Path) -> None:
    base = created(tmp_path, "base.qcow2", "qcow2", "64M")
    child = created(tmp_path, "child.qcow2", "qcow2", "64M", f"backing_file={base}", "backing_fmt=qcow2")
    image, task = imported(api, child.read_bytes(), disk_format="qcow2")
    assert image["status"] == "queued" and image["disk_format"] == "qcow2"
    assert task["status"] == "failure" and "backing file" in task["message"], task


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, zstandard.ZstdCompressor().compress],
                         ids=["gzip", "xz", "zstd"])
def test_compressed_imports_are_decompressed_then_converted(api: Api, tmp_path: Path, compress: Any) -> None:
    qcow2 = converted(tmp_path, "disk.qcow2", "qcow2")
    image, task = imported(api, compress(qcow2.read_bytes()), disk_format="qcow2", container_format="compressed")
    assert image["status"] == "active", task
    assert (image["disk_format"], image["container_format"]) == ("raw", "bare")
    assert downloaded(api, image["id"]) == raw_with_data(tmp_path, "expected.raw").read_bytes()


def test_a_zip_of_one_raw_image_is_unpacked(api: Api) -> None:
    data = bytes(range(256)) * 4096
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("disk.raw", data)
    image, task = imported(api, archive.getvalue(), container_format="compressed")
    assert image["status"] == "active", task
    assert downloaded(api, image["id"]) == data


def test_a_zip_of_several_files_is_refused(api: Api) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("a.raw", b"a" * 1000)
        out.writestr("b.raw", b"b" * 1000)
    image, task = imported(api, archive.getvalue(), container_format="compressed")
    assert image["status"] == "queued" and "holds 2 files" in task["message"], task


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.ZstdCompressor().compress], ids=["gzip", "zstd"])
def test_decompression_bombs_are_refused(api: Api, node: Server, compress: Any) -> None:
    bomb = compress(bytes(64 * MiB))
    assert len(bomb) * 100 < 64 * MiB
    image, task = imported(api, bomb, container_format="compressed")
    assert image["status"] == "queued" and "decompression bomb" in task["message"], task
    assert not [p for p in (node.data_dir / "images").iterdir() if image["id"] in p.name]


def test_a_compressed_container_without_compressed_data_is_refused(api: Api) -> None:
    image, task = imported(api, bytes(4096), container_format="compressed")
    assert image["status"] == "queued" and "no gzip, xz, bzip2, zstd or zip signature" in task["message"], task
