"""The swift driver with Keystone v3: a real Keystone, and the test cluster's radosgw validating its tokens.

radosgw is restarted for this module with Keystone configured (and back without
it at the end); the object-store endpoints are in Keystone's catalog, the
public one pointing at a closed port, so only ``endpoint_type = internalURL``
can work.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from glimpse.stores.base import Store, StoreObjectNotFound, StoreUnavailableError, put
from glimpse.stores.loader import driver_class
from tests.support.ceph import CephCluster, free_port
from tests.support.identity import ADMIN_PASSWORD, Keystone, start_keystone

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def keystone(ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    # tokens that outlive the module: radosgw validates each one with Keystone, which is slow on a loaded machine
    identity = start_keystone(tmp_path_factory.mktemp("keystone"), free_port(), token_seconds=600)
    service = identity._call("POST", "/services", {"service": {"type": "object-store", "name": "swift"}})["service"]
    for interface, url in (("public", f"http://127.0.0.1:{free_port()}/swift/v1"),
                           ("internal", f"http://127.0.0.1:{ceph.rgw_port}/swift/v1")):
        identity._call("POST", "/endpoints", {"endpoint": {"service_id": service["id"], "interface": interface,
                                                           "url": url, "region_id": "RegionOne"}})
    ceph.stop_rgw(crash=False)
    ceph.start_rgw(f"--rgw_keystone_url={identity.url.removesuffix('/v3')}", "--rgw_keystone_api_version=3",
                   "--rgw_keystone_admin_user=admin", f"--rgw_keystone_admin_password={ADMIN_PASSWORD}",
                   "--rgw_keystone_admin_project=admin", "--rgw_keystone_admin_domain=Default",
                   "--rgw_keystone_accepted_roles=admin,member", "--rgw_keystone_verify_ssl=false")
    try:
        yield identity
    finally:
        ceph.stop_rgw(crash=False)
        ceph.start_rgw()
        identity.stop()


def swift_v3(keystone: Keystone, **options: object) -> Store:
    settings = {"auth_address": keystone.url.removesuffix("/v3"), "auth_version": 3, "user": "admin",
                "key": ADMIN_PASSWORD, "project_name": "admin", "project_domain_id": "default",
                "user_domain_id": "default", "endpoint_type": "internalURL", "region": "RegionOne",
                "container": f"ks-{uuid.uuid4().hex[:10]}", "create_container_on_put": True,
                "large_object_size": 1, "large_object_chunk_size": 1, **options}
    store: Store = driver_class("swift")(**settings)
    return store


@pytest.mark.parametrize("size", [10, 3 * MiB + 1], ids=["one-object", "segments"])
def test_keystone_v3_signs_in_finds_the_internal_endpoint_and_round_trips(keystone: Keystone, size: int) -> None:
    store = swift_v3(keystone)
    data = os.urandom(size)
    stored = put(store, "image-1", [data[:MiB // 2], data[MiB // 2:]], size=None)
    assert stored.size == size
    assert b"".join(store.open("image-1")) == data
    store.delete("image-1")
    with pytest.raises(StoreObjectNotFound):
        store.stat("image-1")


def test_project_and_user_can_be_written_the_glance_way(keystone: Keystone) -> None:
    store = swift_v3(keystone, user="admin:admin", project_name=None)
    store.check()


def test_a_wrong_password_is_unavailable_and_never_shown(keystone: Keystone) -> None:
    store = swift_v3(keystone, key="not-the-admin-password")
    with pytest.raises(StoreUnavailableError) as caught:
        store.check()
    assert "not-the-admin-password" not in str(caught.value) and "401" in str(caught.value)


def test_the_public_endpoint_is_taken_when_asked_for(keystone: Keystone) -> None:
    store = swift_v3(keystone, endpoint_type="publicURL")
    with pytest.raises(StoreUnavailableError):  # the public endpoint is a closed port
        store.check()
