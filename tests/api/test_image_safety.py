"""Image-data safety through a real server: every catalogued image by upload and by glance-direct import.

Benign images become active with qemu-img's virtual size; hostile ones are
refused with a message naming the format and the problem (415 for data of
another format, 400 for unsafe data), the image goes back to ``queued`` and
nothing stays in the store or in staging.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glimpse.formats.qemu import QEMU_FORMATS
from tests.conftest import Api, Server, start_server
from tests.support.disk_images import require_qemu_img
from tests.support.image_cases import BENIGN, HOSTILE, Case, build_all

ENV = {"GLIMPSE_EXTENSIONS": '["image-import"]', "GLIMPSE_IMPORT_METHODS": '["glance-direct"]'}
STATUS = {"mismatch": 415, "unsafe": 400}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_qemu_img()
    return build_all(tmp_path_factory.mktemp("safety-cases"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("safety"), env=ENV)
    yield server
    server.stop()


@pytest.fixture
def api(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex)
    yield client
    client.close()


def create(api: Api, case: Case) -> dict[str, Any]:
    return api.create(name=case.name, disk_format=case.disk_format, container_format=case.container_format)


def qemu_virtual_size(path: Path, disk_format: str) -> int:
    done = subprocess.run(["qemu-img", "info", "--output=json", "-f", QEMU_FORMATS[disk_format], str(path)],
                          capture_output=True, check=True)
    return int(json.loads(done.stdout)["virtual-size"])


def leftovers(node: Server, image_id: str) -> list[str]:
    return [name for area in ("images", "staging") if (node.data_dir / area).is_dir()
            for name in os.listdir(node.data_dir / area) if image_id in name]


def import_staged(api: Api, image_id: str, path: Path) -> dict[str, Any]:
    staged = api.http.put(f"/v2/images/{image_id}/stage", content=path.read_bytes(),
                          headers={"Content-Type": "application/octet-stream"})
    assert staged.status_code == 204, staged.text
    assert api.http.post(f"/v2/images/{image_id}/import",
                         json={"method": {"name": "glance-direct"}}).status_code == 202
    deadline = time.monotonic() + 60
    while (image := api.show(image_id))["status"] not in ("active", "queued"):
        assert time.monotonic() < deadline, image
        time.sleep(0.05)
    return image


def last_task(api: Api, image_id: str) -> dict[str, Any]:
    """The image's latest task once it has finished (the image is reverted a moment before its task ends)."""
    deadline = time.monotonic() + 30
    while True:
        listed: list[dict[str, Any]] = api.http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        if listed[-1]["status"] in ("success", "failure") or time.monotonic() > deadline:
            return listed[-1]
        time.sleep(0.05)


@pytest.mark.parametrize("case", BENIGN, ids=[c.name for c in BENIGN])
def test_benign_image_upload_becomes_active_with_qemus_virtual_size(api: Api, images: dict[str, Path],
                                                                    case: Case) -> None:
    image = create(api, case)
    response = api.upload(image["id"], images[case.name].read_bytes())
    assert response.status_code == 204, response.text
    shown = api.show(image["id"])
    assert shown["status"] == "active"
    assert abs(shown["virtual_size"] - qemu_virtual_size(images[case.name], case.disk_format)) < 512


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_hostile_image_upload_is_refused_and_leaves_nothing(api: Api, node: Server, images: dict[str, Path],
                                                            case: Case) -> None:
    image = create(api, case)
    response = api.upload(image["id"], images[case.name].read_bytes())
    assert response.status_code == STATUS[case.outcome], response.text
    message = response.json()["message"]
    assert case.says in message and (case.disk_format in message or case.container_format in message), message
    assert api.show(image["id"])["status"] == "queued"
    assert leftovers(node, image["id"]) == []


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_hostile_image_import_fails_its_task_and_leaves_nothing(api: Api, node: Server, images: dict[str, Path],
                                                                case: Case) -> None:
    image = create(api, case)
    assert import_staged(api, image["id"], images[case.name])["status"] == "queued"
    task = last_task(api, image["id"])
    assert task["status"] == "failure" and case.says in task["message"], task
    assert leftovers(node, image["id"]) == []


@pytest.mark.parametrize("case", [c for c in BENIGN if c.disk_format in ("qcow2", "vmdk", "vhdx")][:3],
                         ids=lambda c: c.name)
def test_benign_image_import_becomes_active(api: Api, images: dict[str, Path], case: Case) -> None:
    image = create(api, case)
    imported = import_staged(api, image["id"], images[case.name])
    assert imported["status"] == "active", last_task(api, image["id"])
    assert abs(imported["virtual_size"] - qemu_virtual_size(images[case.name], case.disk_format)) < 512


def test_raw_data_declared_qcow2_is_415_naming_both_formats(api: Api) -> None:
    image = api.create(disk_format="qcow2")
    response = api.upload(image["id"], os.urandom(10_000))
    assert response.status_code == 415
    assert "'qcow2'" in response.json()["message"] and "'raw'" in response.json()["message"]


def test_without_qemu_img_the_inspector_alone_refuses_and_the_log_says_so(tmp_path: Path,
                                                                          images: dict[str, Path]) -> None:
    server = start_server(tmp_path / "no-qemu", env={"GLIMPSE_IMAGE_CHECK_WITH_QEMU_IMG": "false"}, log_level="info")
    try:
        api = Api(server.url, uuid.uuid4().hex)
        case = next(c for c in HOSTILE if c.name == "qcow2 backing file")
        image = create(api, case)
        response = api.upload(image["id"], images[case.name].read_bytes())
        assert response.status_code == 400 and "backing file" in response.json()["message"]
        api.close()
    finally:
        server.stop()
    assert "the built-in inspector alone checks image data" in server.log.read_text()
