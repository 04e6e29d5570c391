"""Authentication strategies: API tokens, and noauth's refusal to listen on public addresses."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openstack
import pytest
from glanceclient import Client

from tests.conftest import Server, free_port, start_server


@pytest.fixture(scope="module")
def token_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("tokens"), env={"GLIMPSE_AUTH_STRATEGY": "tokens"})
    yield server
    server.stop()


def manage(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    return subprocess.run([sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(server.data_dir), *args],
                          capture_output=True, text=True, timeout=60, env=env)


def issue(server: Server, *args: str) -> dict[str, str]:
    result = manage(server, "token", "create", *args)
    assert result.returncode == 0, result.stderr
    issued: dict[str, str] = json.loads(result.stdout)
    return issued


def test_requests_without_a_valid_token_get_401(token_node: Server) -> None:
    for headers in ({}, {"X-Auth-Token": "nonsense"}, {"X-Auth-Token": "gl1.0000000000000000.abc"},
                    {"X-Project-Id": "spoofed"}):
        response = httpx.get(f"{token_node.url}/v2/images", headers={**headers, "Accept": "application/json"})
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == 'Token realm="glimpse"'
        assert response.json()["message"]
        assert response.headers["x-openstack-request-id"].startswith("req-")


def test_discovery_and_health_need_no_token(token_node: Server) -> None:
    assert httpx.get(token_node.url + "/").status_code == 300
    assert httpx.get(token_node.url + "/versions").status_code == 200
    assert httpx.get(token_node.url + "/healthcheck").status_code == 200


def test_a_token_carries_project_and_roles(token_node: Server) -> None:
    project = uuid.uuid4().hex
    token = issue(token_node, "--project", project, "--roles", "member,reader", "--description", "ci")["token"]
    headers = {"X-Auth-Token": token, "X-Project-Id": "spoofed", "X-Roles": "admin"}
    created = httpx.post(f"{token_node.url}/v2/images", json={"name": "t"}, headers=headers)
    assert created.status_code == 201
    assert created.json()["owner"] == project
    public = httpx.post(f"{token_node.url}/v2/images", json={"visibility": "public"}, headers=headers)
    assert public.status_code == 403
    reader = issue(token_node, "--project", project, "--roles", "reader")["token"]
    assert httpx.post(f"{token_node.url}/v2/images", json={}, headers={"X-Auth-Token": reader}).status_code == 403
    listed = manage(token_node, "token", "list", "--project", project).stdout
    assert "ci" in listed and token not in listed


def test_glanceclient_and_openstacksdk_with_a_token(token_node: Server) -> None:
    project = uuid.uuid4().hex
    token = issue(token_node, "--project", project)["token"]
    glance = Client("2", endpoint=token_node.url, token=token)
    image = glance.images.create(name="via-glanceclient", disk_format="raw", container_format="bare")
    glance.images.upload(image["id"], io.BytesIO(b"token bytes"))
    assert b"".join(glance.images.data(image["id"])) == b"token bytes"
    assert glance.images.get(image["id"])["owner"] == project

    sdk = openstack.connection.Connection(auth_type="admin_token",
                                          auth={"endpoint": token_node.url, "token": token},
                                          image_endpoint_override=token_node.url)
    fetched = sdk.image.get_image(image["id"])
    assert fetched.checksum == hashlib.md5(b"token bytes").hexdigest()
    assert [i.id for i in sdk.image.images(owner=project)] == [image["id"]]


def test_revoked_and_expired_tokens_are_refused(token_node: Server) -> None:
    issued = issue(token_node, "--project", uuid.uuid4().hex)
    headers = {"X-Auth-Token": issued["token"]}
    assert httpx.get(f"{token_node.url}/v2/images", headers=headers).status_code == 200
    assert manage(token_node, "token", "revoke", issued["id"]).returncode == 0
    assert httpx.get(f"{token_node.url}/v2/images", headers=headers).status_code == 401
    again = manage(token_node, "token", "revoke", issued["id"])
    assert again.returncode != 0 and "No active token" in again.stderr

    short = issue(token_node, "--project", uuid.uuid4().hex, "--expires-in-days", str(2 / 86400))
    headers = {"X-Auth-Token": short["token"]}
    assert httpx.get(f"{token_node.url}/v2/images", headers=headers).status_code == 200
    time.sleep(2.5)
    assert httpx.get(f"{token_node.url}/v2/images", headers=headers).status_code == 401


def test_a_tampered_secret_is_refused(token_node: Server) -> None:
    token = issue(token_node, "--project", uuid.uuid4().hex)["token"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert httpx.get(f"{token_node.url}/v2/images", headers={"X-Auth-Token": tampered}).status_code == 401


def test_noauth_refuses_a_public_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    command = [sys.executable, "-m", "glimpse.cli.serve", "--data-dir", str(tmp_path), "--host", "0.0.0.0",
               "--port", str(free_port())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert "refusing to serve without authentication" in result.stderr
    forced = subprocess.Popen([*command, "--insecure-noauth"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        assert forced.poll() is None
    finally:
        forced.terminate()
        forced.wait(15)
