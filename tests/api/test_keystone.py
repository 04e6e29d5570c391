"""Authentication against a real OpenStack Keystone: glanceclient and openstacksdk end to end."""

from __future__ import annotations

import hashlib
import io
import time
import uuid

import httpx
import openstack
import pytest
from glanceclient import Client
from glanceclient import exc as glance_exc

from tests.support.identity import PASSWORD, TOKEN_SECONDS, Cloud


@pytest.fixture
def cloud(keystone_cloud: Cloud) -> Cloud:
    return keystone_cloud

def test_no_or_bad_token_is_401_with_a_keystone_challenge(cloud: Cloud) -> None:
    for headers in ({}, {"X-Auth-Token": "not-a-token"}):
        response = httpx.get(f"{cloud.glimpse.url}/v2/images", headers={**headers, "Accept": "application/json"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == f'Keystone uri="{cloud.keystone.url.removesuffix("/v3")}"'


def test_glanceclient_with_a_keystone_token(cloud: Cloud) -> None:
    glance = Client("2", endpoint=cloud.glimpse.url, token=cloud.token("alice"))
    image = glance.images.create(name="ks-glanceclient", disk_format="raw", container_format="bare",
                                 visibility="private")
    assert image["owner"] == cloud.projects["blue"]
    glance.images.upload(image["id"], io.BytesIO(b"keystone data"))
    assert b"".join(glance.images.data(image["id"])) == b"keystone data"

    stranger = Client("2", endpoint=cloud.glimpse.url, token=cloud.token("bob"))
    with pytest.raises(glance_exc.HTTPNotFound):
        stranger.images.get(image["id"])
    reader = Client("2", endpoint=cloud.glimpse.url, token=cloud.token("rita"))
    assert reader.images.get(image["id"])["id"] == image["id"]
    with pytest.raises(glance_exc.HTTPForbidden):
        reader.images.create(name="nope", disk_format="raw", container_format="bare")
    with pytest.raises(glance_exc.HTTPForbidden):
        glance.images.update(image["id"], visibility="public")


def test_openstacksdk_finds_glimpse_in_the_catalog(cloud: Cloud, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sdk = openstack.connection.Connection(
        auth_url=cloud.keystone.url, username="alice", password=PASSWORD, project_name="blue",
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne")
    data = uuid.uuid4().bytes * 1000
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    name = f"ks-sdk-{uuid.uuid4().hex[:6]}"
    image = sdk.image.create_image(name=name, filename=str(path), disk_format="raw", container_format="bare",
                                   wait=True)
    assert image.owner == cloud.projects["blue"]
    assert sdk.image.get_image(image.id).checksum == hashlib.md5(data).hexdigest()
    assert sdk.image.download_image(image).content == data
    assert name in [i.name for i in sdk.image.images(owner=cloud.projects["blue"])]
    sdk.image.delete_image(image)


def test_revoked_token_is_refused(cloud: Cloud) -> None:
    token = cloud.token("alice")
    headers = {"X-Auth-Token": token}
    assert httpx.get(f"{cloud.glimpse.url}/v2/images", headers=headers).status_code == 200
    cloud.keystone.revoke(token)
    time.sleep(1.5)  # the node trusts a validated token for token_cache_seconds (1 s here)
    assert httpx.get(f"{cloud.glimpse.url}/v2/images", headers=headers).status_code == 401


def test_expired_token_is_refused(cloud: Cloud) -> None:
    token = cloud.token("alice")
    headers = {"X-Auth-Token": token}
    assert httpx.get(f"{cloud.glimpse.url}/v2/images", headers=headers).status_code == 200
    time.sleep(TOKEN_SECONDS + 1.5)
    assert httpx.get(f"{cloud.glimpse.url}/v2/images", headers=headers).status_code == 401
    # the node renewed its own (equally short-lived) service token meanwhile
    assert httpx.get(f"{cloud.glimpse.url}/v2/images", headers={"X-Auth-Token": cloud.token("alice")}).status_code \
        == 200
