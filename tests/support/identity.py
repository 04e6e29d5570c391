"""A real OpenStack Keystone for the tests, in a virtualenv of its own (it pins its own libraries).

The virtualenv (:mod:`tests.support.keystone_venv`) is created on first use from PyPI, unless made
ahead; where that is impossible the Keystone tests skip with the reason.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import keystone_venv

ADMIN_PASSWORD = "keystone-admin-secret"
#: Short token lifetime, so that expiry can be tested.
TOKEN_SECONDS = 12


def keystone_python() -> Path:
    """The virtualenv's python with keystone installed, creating it if needed (or skip)."""
    try:
        return keystone_venv.install()
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"cannot install OpenStack Keystone into {keystone_venv.VENV}: {exc} "
                    f"{detail.decode(errors='replace')[-500:]}")


@dataclass
class Keystone:
    url: str  # .../v3
    process: subprocess.Popen[bytes]
    _admin: tuple[str, float] = ("", 0.0)

    @property
    def admin_token(self) -> str:
        """An administrator token young enough to use (tokens live only a few seconds here)."""
        if self._admin[1] < time.monotonic():
            self._admin = (self.token("admin", ADMIN_PASSWORD, "admin"), time.monotonic() + TOKEN_SECONDS / 2)
        return self._admin[0]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()

    # -- the identity API, as an administrator
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.request(method, f"{self.url}{path}", json=body, timeout=30,
                                 headers={"X-Auth-Token": self.admin_token})
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else {}

    def _find(self, kind: str, name: str) -> str | None:
        found = self._call("GET", f"/{kind}?name={name}")[kind]
        return found[0]["id"] if found else None

    def project(self, name: str) -> str:
        existing = self._find("projects", name)
        if existing:
            return existing
        body = {"project": {"name": name, "domain_id": "default"}}
        return str(self._call("POST", "/projects", body)["project"]["id"])

    def user(self, name: str, password: str, project: str, roles: list[str]) -> str:
        user_id = self._call("POST", "/users", {"user": {"name": name, "password": password,
                                                         "domain_id": "default"}})["user"]["id"]
        for role in roles:
            role_id = self._find("roles", role)
            assert role_id, role
            self._call("PUT", f"/projects/{project}/users/{user_id}/roles/{role_id}")
        return str(user_id)

    def register_image_endpoint(self, url: str) -> None:
        service = self._call("POST", "/services", {"service": {"type": "image", "name": "glimpse"}})["service"]
        self._call("POST", "/endpoints", {"endpoint": {"service_id": service["id"], "interface": "public",
                                                       "url": url, "region_id": "RegionOne"}})

    def token(self, user: str, password: str, project: str) -> str:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "password": password, "domain": {"id": "default"}}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        response = httpx.post(f"{self.url}/auth/tokens", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    def revoke(self, token: str) -> None:
        response = httpx.delete(f"{self.url}/auth/tokens", timeout=30,
                                headers={"X-Auth-Token": self.admin_token, "X-Subject-Token": token})
        assert response.status_code == 204, response.text


def start_keystone(workdir: Path, port: int, *, token_seconds: int = TOKEN_SECONDS) -> Keystone:
    python = keystone_python()
    manage = [str(python.parent / "keystone-manage")]
    config = workdir / "keystone.conf"
    config.write_text(
        f"[DEFAULT]\nlog_file = {workdir / 'keystone.log'}\n"
        f"[database]\nconnection = sqlite:///{workdir / 'keystone.db'}\n"
        f"[token]\nprovider = fernet\nexpiration = {token_seconds}\n"
        "[identity]\npassword_hash_rounds = 4\n"
        f"[fernet_tokens]\nkey_repository = {workdir / 'fernet-keys'}\n"
        f"[fernet_receipts]\nkey_repository = {workdir / 'fernet-receipts'}\n"
        f"[credential]\nkey_repository = {workdir / 'credential-keys'}\n"
    )
    url = f"http://127.0.0.1:{port}/v3"
    user = os.environ.get("USER") or "root"
    steps = [
        ["db_sync"],
        ["fernet_setup", "--keystone-user", user, "--keystone-group", user],
        ["credential_setup", "--keystone-user", user, "--keystone-group", user],
        ["bootstrap", "--bootstrap-password", ADMIN_PASSWORD, "--bootstrap-admin-url", url,
         "--bootstrap-public-url", url, "--bootstrap-region-id", "RegionOne"],
    ]
    for step in steps:
        result = subprocess.run([*manage, "--config-file", str(config), *step], capture_output=True, timeout=300)
        if result.returncode != 0:
            pytest.skip(f"keystone-manage {step[0]} failed: {result.stderr.decode(errors='replace')[-800:]}")
    runner = Path(__file__).with_name("run_keystone.py")
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen([str(python), str(runner), str(port), str(config)], stdout=log, stderr=log)
    keystone = Keystone(url, process)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.skip(f"keystone exited: {(workdir / 'server.log').read_text()[-800:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        keystone.stop()
        pytest.skip("keystone did not start within 90 s")
    return keystone


PASSWORD = "user-secret"


@dataclass
class Cloud:
    """A Keystone with projects blue (alice: member, rita: reader) and green (bob: member), and a
    Glimpse node that authenticates with it (and is in its catalog as the image service)."""

    keystone: Keystone
    glimpse: Any
    projects: dict[str, str]

    def token(self, user: str) -> str:
        project = {"alice": "blue", "rita": "blue", "bob": "green"}[user]
        return self.keystone.token(user, PASSWORD, project)


def start_cloud(workdir: Path, glimpse_dir: Path) -> Cloud:
    """Keystone plus a Glimpse node with ``auth_strategy = keystone``; stop both with :func:`stop_cloud`."""
    from tests.conftest import free_port, start_server

    keystone = start_keystone(workdir, free_port())
    try:
        projects = {name: keystone.project(name) for name in ("blue", "green", "service")}
        keystone.user("alice", PASSWORD, projects["blue"], ["member", "reader"])
        keystone.user("rita", PASSWORD, projects["blue"], ["reader"])
        keystone.user("bob", PASSWORD, projects["green"], ["member", "reader"])
        keystone.user("glimpse", "service-secret", projects["service"], ["service"])
        glimpse = start_server(glimpse_dir, env={
            "GLIMPSE_AUTH_STRATEGY": "keystone",
            "GLIMPSE_KEYSTONE_URL": keystone.url,
            "GLIMPSE_KEYSTONE_USERNAME": "glimpse",
            "GLIMPSE_KEYSTONE_PASSWORD": "service-secret",
            "GLIMPSE_KEYSTONE_PROJECT_NAME": "service",
            "GLIMPSE_TOKEN_CACHE_SECONDS": "1",
        })
        keystone.register_image_endpoint(glimpse.url)
    except BaseException:
        keystone.stop()
        raise
    return Cloud(keystone, glimpse, projects)


def stop_cloud(cloud: Cloud) -> None:
    cloud.glimpse.stop()
    cloud.keystone.stop()
