"""The ``openstack image …`` commands (python-openstackclient) against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import Server


def test_openstack_image_commands(server: Server, tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  glimpse:\n    auth_type: none\n"
        f"    image_endpoint_override: {server.url}\n"
        f"    identity_endpoint_override: {server.url}\n"
        "    identity_api_version: '3'\n"
    )
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds), "OS_CLOUD": "glimpse", "HOME": str(tmp_path)}
    osc = [sys.executable, "-c", "import sys; from openstackclient.shell import main; sys.exit(main())"]

    def run(*args: str) -> str:
        result = subprocess.run([*osc, *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    data = os.urandom(2 * 1024 * 1024 + 3)
    source = tmp_path / "disk.raw"
    source.write_bytes(data)
    name = f"osc-{uuid.uuid4().hex[:8]}"
    created = json.loads(run("image", "create", "--disk-format", "raw", "--container-format", "bare",
                             "--file", str(source), "--property", "os_distro=alpine", "--tag", "t1",
                             name, "-f", "json"))
    assert created["status"] == "active" and created["size"] == len(data)
    image_id = created["id"]
    assert any(row["ID"] == image_id for row in json.loads(run("image", "list", "--name", name, "-f", "json")))
    run("image", "set", "--property", "color=green", "--min-ram", "128", image_id)
    shown = json.loads(run("image", "show", image_id, "-f", "json"))
    assert shown["min_ram"] == 128 and shown["properties"]["color"] == "green"
    saved = tmp_path / "saved.raw"
    run("image", "save", "--file", str(saved), image_id)
    assert saved.read_bytes() == data
    run("image", "delete", image_id)
    assert json.loads(run("image", "list", "--name", name, "-f", "json")) == []
