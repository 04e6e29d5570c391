"""``openstack image …`` commands that look projects up in the identity service, against a node without
Keystone, with the README's ``clouds.yaml`` (``identity_endpoint_override: <node>/v3``); and the import,
task and store commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_server


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("osc-projects"))  # the default configuration: import is on
    yield server
    server.stop()


@pytest.fixture(scope="module")
def osc(node: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("osc-home")
    clouds = home / "clouds.yaml"
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]  # the README's clouds.yaml, as documented
    clouds.write_text(block.replace("http://127.0.0.1:9292", node.url))
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds), "OS_CLOUD": "glimpse", "HOME": str(home)}
    command = [sys.executable, "-c", "import sys; from openstackclient.shell import main; sys.exit(main())"]

    def run(*args: str) -> str:
        result = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
        return result.stdout

    return run


def test_sharing_with_projects_by_id(osc: Any) -> None:
    image = json.loads(osc("image", "create", "--disk-format", "raw", "--container-format", "bare", "--shared",
                           f"share-{uuid.uuid4().hex[:6]}", "-f", "json"))
    project = f"proj-{uuid.uuid4().hex[:8]}"
    added = json.loads(osc("image", "add", "project", image["id"], project, "-f", "json"))
    assert added["member_id"] == project and added["status"] == "pending"
    members = json.loads(osc("image", "member", "list", image["id"], "-f", "json"))
    assert [m["Member ID"] for m in members] == [project]
    member = json.loads(osc("image", "member", "get", image["id"], project, "-f", "json"))
    assert member["member_id"] == project
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    osc("image", "set", "--project", owner, image["id"])
    assert json.loads(osc("image", "show", image["id"], "-f", "json"))["owner"] == owner
    osc("image", "remove", "project", image["id"], project)
    assert json.loads(osc("image", "member", "list", image["id"], "-f", "json")) == []


def test_stage_import_and_tasks(osc: Any, node: Server, tmp_path: Path) -> None:
    methods = json.loads(osc("image", "import", "info", "-f", "json"))
    assert "glance-direct" in json.dumps(methods)
    # queued, without data (`openstack image create` would upload its standard input, not being a terminal)
    image = httpx.post(f"{node.url}/v2/images", json={"name": "staged", "disk_format": "raw",
                                                      "container_format": "bare"}).json()
    source = tmp_path / "disk.raw"
    source.write_bytes(os.urandom(100_000))
    osc("image", "stage", "--file", str(source), image["id"])
    osc("image", "import", "--method", "glance-direct", image["id"])
    deadline = time.monotonic() + 30
    while json.loads(osc("image", "show", image["id"], "-f", "json"))["status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    tasks = json.loads(osc("image", "task", "list", "-f", "json"))
    assert tasks and all(task["Status"] in ("pending", "processing", "success", "failure") for task in tasks)
    stores = json.loads(osc("image", "stores", "list", "-f", "json"))
    assert [store["ID"] for store in stores] == ["file"]


def test_openstack_image_create_import_and_glance_image_create_via_import(osc: Any, node: Server,
                                                                         tmp_path: Path) -> None:
    source = tmp_path / "disk.raw"
    source.write_bytes(os.urandom(50_000))
    created = json.loads(osc("image", "create", "--import", "--disk-format", "raw", "--container-format", "bare",
                             "--file", str(source), f"osc-import-{uuid.uuid4().hex[:6]}", "-f", "json"))
    deadline = time.monotonic() + 30
    while (shown := json.loads(osc("image", "show", created["id"], "-f", "json")))["status"] != "active":
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert shown["size"] == source.stat().st_size
    glance = subprocess.run(
        [str(Path(sys.executable).parent / "glance"), "--os-image-url", node.url, "--os-auth-token", "unused",
         "image-create-via-import", "--disk-format", "raw", "--container-format", "bare", "--name", "via-import",
         "--import-method", "glance-direct"], stdin=source.open("rb"),  # glance reads the data from stdin
        capture_output=True, text=True, timeout=120, env={k: v for k, v in os.environ.items() if not k.startswith("OS_")})
    assert glance.returncode == 0, glance.stderr
    image_id = next(line.split("|")[2].strip() for line in glance.stdout.splitlines() if line.startswith("| id "))
    deadline = time.monotonic() + 30
    while httpx.get(f"{node.url}/v2/images/{image_id}").json()["status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_openstacksdk_create_image_use_import_against_the_default_configuration(node: Server, tmp_path: Path) -> None:
    import openstack
    from keystoneauth1 import noauth
    from keystoneauth1 import session as ks_session

    project = uuid.uuid4().hex
    session = ks_session.Session(auth=noauth.NoAuth(), additional_headers={"X-Project-Id": project})
    sdk = openstack.connection.Connection(session=session, image_endpoint_override=node.url)
    path = tmp_path / "sdk.raw"
    path.write_bytes(os.urandom(70_000))
    image = sdk.image.create_image(name=f"sdk-import-{uuid.uuid4().hex[:6]}", filename=str(path), disk_format="raw",
                                   container_format="bare", use_import=True, allow_duplicates=True)
    deadline = time.monotonic() + 30
    while (shown := sdk.image.get_image(image.id)).status != "active":
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert shown.size == path.stat().st_size
    assert sdk.image.download_image(shown).content == path.read_bytes()
