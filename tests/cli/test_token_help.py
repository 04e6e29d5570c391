"""``glimpse-manage token create --help`` says who makes tokens and what makes one an administrator, and
that is what tokens do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import start_server

MANAGE = [sys.executable, "-m", "glimpse.cli.manage"]


def test_the_help_says_only_the_admin_role_makes_an_administrator(tmp_path: Path) -> None:
    shown = subprocess.run([*MANAGE, "token", "create", "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "unscoped admin token" not in text
    assert "the API offers no way to create them" in text and "only --roles admin makes an administrator" in text

    data_dir = tmp_path / "node"
    server = start_server(data_dir, env={"GLIMPSE_AUTH_STRATEGY": "tokens", "GLIMPSE_METRICS_ACCESS": "admin"})
    try:
        def token(*args: str) -> str:
            made = subprocess.run([*MANAGE, "--data-dir", str(data_dir), "token", "create", *args],
                                  capture_output=True, text=True, timeout=60)
            assert made.returncode == 0, made.stderr
            return str(json.loads(made.stdout)["token"])

        unscoped_member = token()
        unscoped_admin = token("--roles", "admin")
        # /metrics with metrics_access = admin: for administrators only
        assert httpx.get(f"{server.url}/metrics", headers={"X-Auth-Token": unscoped_member}).status_code == 403
        assert httpx.get(f"{server.url}/metrics", headers={"X-Auth-Token": unscoped_admin}).status_code == 200
    finally:
        server.stop()
