"""openstacksdk (``Connection`` with no auth and an image endpoint override) against a live server."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import openstack
import pytest
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from openstack import exceptions as sdk_exc

from tests.conftest import Server


def connect(server: Server, project: str | None = None) -> openstack.connection.Connection:
    headers = {"X-Project-Id": project} if project else {}
    session = ks_session.Session(auth=noauth.NoAuth(), additional_headers=headers)
    return openstack.connection.Connection(session=session, image_endpoint_override=server.url)


@pytest.fixture
def sdk(server: Server, project: str) -> openstack.connection.Connection:
    return connect(server, project)


def test_full_life_cycle(sdk: openstack.connection.Connection, tmp_path: Path, project: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    image = sdk.image.create_image(name=name, filename=str(path), disk_format="raw", container_format="bare",
                                   validate_checksum=True, wait=True, tags=["a"], os_distro="fedora")
    assert image.status == "active" and image.owner == project
    assert image.size == len(data) and image.checksum == hashlib.md5(data).hexdigest()

    fetched = sdk.image.get_image(image.id)
    assert fetched.hash_value == hashlib.sha512(data).hexdigest()
    assert sdk.image.download_image(fetched).content == data  # checks the hash too
    target = tmp_path / "out.raw"
    sdk.image.download_image(fetched, output=str(target))
    assert target.read_bytes() == data

    sdk.image.update_image(image, name=f"{name}-2", min_ram=256, os_distro="debian")
    fetched = sdk.image.get_image(image.id)
    assert (fetched.name, fetched.min_ram, fetched.os_distro) == (f"{name}-2", 256, "debian")
    sdk.image.add_tag(image, "b")
    sdk.image.remove_tag(image, "a")
    assert sdk.image.get_image(image.id).tags == ["b"]

    assert sdk.image.find_image(f"{name}-2").id == image.id
    assert [i.id for i in sdk.image.images(name=f"{name}-2")] == [image.id]

    sdk.image.deactivate_image(image)
    assert sdk.image.get_image(image.id).status == "deactivated"
    sdk.image.reactivate_image(image)
    sdk.image.delete_image(image)
    assert sdk.image.find_image(f"{name}-2") is None
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.image.get_image(image.id)


def test_listing_filters_and_paging(sdk: openstack.connection.Connection, project: str) -> None:
    ids = []
    for i in range(5):
        image = sdk.image.create_image(name=f"l{i}", disk_format="raw", container_format="bare",
                                       allow_duplicates=True)
        ids.append(image.id)
    hidden = sdk.image.create_image(name="hidden", disk_format="raw", container_format="bare",
                                    allow_duplicates=True)
    sdk.image.update_image(hidden, is_hidden=True)
    listed = list(sdk.image.images(owner=project, limit=2))
    assert sorted(i.id for i in listed) == sorted(ids)
    assert [i.name for i in sdk.image.images(owner=project, is_hidden=True)] == ["hidden"]
    by_name = [i.name for i in sdk.image.images(owner=project, sort="name:asc")]
    assert by_name == [f"l{i}" for i in range(5)]


def test_errors_map_to_sdk_exceptions(sdk: openstack.connection.Connection) -> None:
    image = sdk.image.create_image(name="e", disk_format="raw", container_format="bare", allow_duplicates=True)
    with pytest.raises(sdk_exc.HttpException) as raised:
        sdk.image.update_image(image, visibility="public")
    assert raised.value.status_code == 403
    assert "public" in str(raised.value)
    with pytest.raises(sdk_exc.BadRequestException):
        list(sdk.image.images(sort_key="owner"))


def test_members_across_projects(server: Server, sdk: openstack.connection.Connection) -> None:
    image = sdk.image.create_image(name="m", disk_format="raw", container_format="bare", allow_duplicates=True)
    guest_project = uuid.uuid4().hex
    guest = connect(server, guest_project)
    member = sdk.image.add_member(image, member_id=guest_project)
    assert member.status == "pending"
    guest.image.update_member(member, image, status="accepted")
    assert [m.status for m in sdk.image.members(image)] == ["accepted"]
    assert guest.image.get_image(image.id).id == image.id
    sdk.image.remove_member(member, image)
    with pytest.raises(sdk_exc.NotFoundException):
        guest.image.get_image(image.id)
