"""glimpseclient logging in to a real OpenStack Keystone and using Glimpse through its catalog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import glimpseclient
from glimpseclient import Client
from tests.support.identity import PASSWORD, Cloud

GLIMPSE = str(Path(sys.executable).with_name("glimpse"))


def _env(cloud: Cloud, **extra: str) -> dict[str, str]:
    return {"OS_AUTH_URL": cloud.keystone.url, "OS_USERNAME": "alice", "OS_PASSWORD": PASSWORD,
            "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_NAME": "blue", "OS_PROJECT_DOMAIN_NAME": "Default",
            **extra}


def test_password_login_and_catalog(keystone_cloud: Cloud) -> None:
    with Client.from_environment(_env(keystone_cloud)) as client:
        image = client.images.create(name="client-keystone", disk_format="raw", container_format="bare")
        assert image.owner == keystone_cloud.projects["blue"]
        client.images.upload(image.id, b"through keystone")
        with client.images.download(image.id) as download:
            assert b"".join(download) == b"through keystone"
        client.images.delete(image.id)
    with Client.from_environment(_env(keystone_cloud, OS_PASSWORD="wrong")) as client:
        with pytest.raises(glimpseclient.Unauthorized):
            list(client.images.list())


def test_application_credential_login_from_the_cli(keystone_cloud: Cloud) -> None:
    token = keystone_cloud.token("alice")
    user = httpx.get(f"{keystone_cloud.keystone.url}/auth/tokens", timeout=30,
                     headers={"X-Auth-Token": token, "X-Subject-Token": token}).json()["token"]["user"]["id"]
    created = httpx.post(f"{keystone_cloud.keystone.url}/users/{user}/application_credentials", timeout=30,
                         headers={"X-Auth-Token": token},
                         json={"application_credential": {"name": f"glimpse-cli-{os.getpid()}"}})
    assert created.status_code == 201, created.text
    credential = created.json()["application_credential"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=keystone_cloud.keystone.url, OS_AUTH_TYPE="v3applicationcredential",
               OS_APPLICATION_CREDENTIAL_ID=credential["id"], OS_APPLICATION_CREDENTIAL_SECRET=credential["secret"])
    result = subprocess.run([GLIMPSE, "image", "create", "--name", "via-app-cred", "--disk-format", "raw",
                             "--container-format", "bare", "-f", "json"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert keystone_cloud.projects["blue"] in result.stdout
