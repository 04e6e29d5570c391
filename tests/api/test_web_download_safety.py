"""web-download through a real server: redirects to internal addresses, port scans, and the format checks.

A file server on 127.0.0.2 stands for the outside world (the operator allows
that one address); everything else on loopback stands for what the service
must never reach.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glimpse.imports.web_download import UNREACHABLE
from tests.conftest import Api, Server, free_port, start_server
from tests.support.disk_images import created, require_qemu_img
from tests.support.web import serve_directory, serve_files

ENV = {"GLIMPSE_EXTENSIONS": '["image-import"]', "GLIMPSE_IMPORT_METHODS": '["web-download"]',
       "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]", "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.2/32"]',
       "GLIMPSE_WEB_DOWNLOAD_CONNECT_TIMEOUT": "2"}


@pytest.fixture(scope="module")
def outside() -> Iterator[str]:
    with serve_files("127.0.0.2") as url:
        yield url


@pytest.fixture(scope="module")
def inside() -> Iterator[str]:
    with serve_files("127.0.0.1") as url:
        yield url


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("web-safety"), env=ENV)
    yield server
    server.stop()


@pytest.fixture
def api(node: Server) -> Iterator[Api]:
    client = Api(node.url, uuid.uuid4().hex)
    yield client
    client.close()


def web_import(api: Api, uri: str, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Import ``uri`` into a new image; the image once the task ends, and the task."""
    image = api.create(**fields)
    response = api.http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "web-download", "uri": uri}})
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    while (shown := api.show(image["id"]))["status"] not in ("active", "queued"):
        assert time.monotonic() < deadline, shown
        time.sleep(0.05)
    while True:  # the image is reverted a moment before its task ends
        tasks: list[dict[str, Any]] = api.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
        if tasks[-1]["status"] in ("success", "failure") or time.monotonic() > deadline:
            return shown, tasks[-1]
        time.sleep(0.05)


def redirect(outside: str, to: str) -> str:
    return f"{outside}/redirect?to={urllib.parse.quote(to, safe='')}"


def test_an_allowed_host_is_fetched(api: Api, outside: str) -> None:
    image, task = web_import(api, f"{outside}/5000")
    assert image["status"] == "active" and image["size"] == 5000, task


def test_an_allowed_redirect_is_followed(api: Api, outside: str) -> None:
    image, task = web_import(api, redirect(outside, f"{outside}/6000"))
    assert image["status"] == "active" and image["size"] == 6000, task


NOTATIONS = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0",
             "[::1]", "localhost"]


@pytest.mark.parametrize("host", NOTATIONS)
def test_redirects_to_loopback_in_every_notation_are_refused(api: Api, outside: str, inside: str, host: str) -> None:
    port = urllib.parse.urlsplit(inside).port
    image, task = web_import(api, redirect(outside, f"http://{host}:{port}/100"))
    assert image["status"] == "queued"
    assert task["status"] == "failure" and task["message"] == UNREACHABLE, task


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/",
                                    "http://[fe80::1%25lo]/", "http://10.0.0.1/", "http://100.64.0.1/"])
def test_redirects_to_metadata_and_private_addresses_are_refused(api: Api, outside: str, target: str) -> None:
    image, task = web_import(api, redirect(outside, target))
    assert image["status"] == "queued" and task["message"] == UNREACHABLE, task


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "169.254.169.254"])
def test_internal_literals_are_refused_when_the_import_is_requested(api: Api, host: str) -> None:
    image = api.create()
    response = api.http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "web-download", "uri": f"http://{host}:8080/x"}})
    assert response.status_code == 400 and "not allowed" in response.json()["message"]


def test_redirect_loops_stop_at_the_limit(api: Api, outside: str) -> None:
    uri = f"{outside}/100"
    for _ in range(7):
        uri = redirect(outside, uri)
    image, task = web_import(api, uri)
    assert image["status"] == "queued" and "redirected more than 5 times" in task["message"], task


def test_a_port_scan_learns_nothing_from_task_messages(api: Api, inside: str) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.2", 0))
    listening.listen()
    open_port = listening.getsockname()[1]
    closed_port = free_port()
    try:
        probes = [
            f"http://localhost:{urllib.parse.urlsplit(inside).port}/100",  # refused address, open port
            f"http://localhost:{closed_port}/100",  # refused address, closed port
            f"http://127.0.0.2:{closed_port}/100",  # allowed address, closed port
            "http://no-such-host.invalid/100",  # unknown host
        ]
        messages = {web_import(api, uri)[1]["message"] for uri in probes}
    finally:
        listening.close()
    assert messages == {UNREACHABLE}
    assert open_port != closed_port


def test_downloaded_bytes_get_the_format_checks(api: Api, outside: str, tmp_path: Path) -> None:
    require_qemu_img()
    backing = created(tmp_path, "base.qcow2", "qcow2", "64M")
    hostile = created(tmp_path, "child.qcow2", "qcow2", "64M", f"backing_file={backing}", "backing_fmt=qcow2")
    with serve_directory(tmp_path) as url:
        image, task = web_import(api, f"{url}/{hostile.name}", disk_format="qcow2")
        assert image["status"] == "queued" and "backing file" in task["message"], task
        image, task = web_import(api, f"{url}/{backing.name}", disk_format="qcow2")
        assert image["status"] == "active" and image["virtual_size"] == 64 * 1024 * 1024, task

