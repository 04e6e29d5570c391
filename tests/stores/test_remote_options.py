"""The remote drivers' options: a wrong one is a one-line StoreConfigError naming it, never echoing a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from glimpse.stores.base import StoreConfigError
from glimpse.stores.loader import StoreSetupError, driver_class, load_store
from glimpse.stores.swift_auth import _catalog_url, keystone_scope

S3 = {"endpoint": "http://127.0.0.1:1", "access_key": "AK", "secret_key": "never-shown-secret", "bucket": "b"}
SWIFT = {"auth_address": "http://127.0.0.1:1/auth/1.0", "auth_version": 1, "user": "a:b", "key": "never-shown-key"}


@pytest.mark.parametrize(("driver", "options", "option"), [
    ("s3", {**S3, "bucket": ""}, "bucket"),
    ("s3", {**S3, "endpoint": None}, "endpoint"),
    ("s3", {**S3, "endpoint": "ftp://host"}, "endpoint"),
    ("s3", {**S3, "endpoint": "http://AK:never-shown-secret@host"}, "endpoint"),
    ("s3", {**S3, "addressing_style": "sideways"}, "addressing_style"),
    ("s3", {**S3, "large_object_chunk_size": 1}, "large_object_chunk_size"),
    ("s3", {**S3, "large_object_size": "lots"}, "large_object_size"),
    ("s3", {**S3, "create_bucket_on_put": "perhaps"}, "create_bucket_on_put"),
    ("s3", {**S3, "thread_pools": 0}, "thread_pools"),
    ("s3", {**S3, "thread_pools": 33}, "thread_pools"),
    ("swift", {**SWIFT, "auth_version": 2}, "auth_version"),
    ("swift", {**SWIFT, "key": ""}, "key"),
    ("swift", {**SWIFT, "multiple_containers_seed": 33}, "multiple_containers_seed"),
    ("swift", {**SWIFT, "auth_version": 3, "user": "no-project"}, "project_name"),
    ("swift", {**SWIFT, "auth_version": 3, "endpoint_type": "sideURL"}, "endpoint_type"),
    ("rbd", {"ceph_conf": "/nonexistent/ceph.conf"}, "ceph_conf"),
])
def test_a_wrong_option_is_named_in_one_line(driver: str, options: dict[str, Any], option: str,
                                            request: pytest.FixtureRequest) -> None:
    if driver == "rbd":
        request.getfixturevalue("rados_bindings")
    with pytest.raises(StoreConfigError) as caught:
        driver_class(driver)(**options)
    assert caught.value.option == option
    assert "\n" not in str(caught.value)
    assert "never-shown" not in str(caught.value)


@pytest.mark.parametrize("driver", ["s3", "swift"])
def test_an_unknown_option_is_refused_by_name(driver: str) -> None:
    options = {"s3": S3, "swift": SWIFT}[driver]
    with pytest.raises(StoreSetupError) as caught:
        load_store("remote", {"driver": driver, **options, "large_object_chunk_sise": 20})
    assert "large_object_chunk_sise" in str(caught.value) and "remote" in str(caught.value)


def test_rbd_chunk_size_must_be_a_power_of_two(tmp_path: Path, rados_bindings: None) -> None:
    (tmp_path / "ceph.conf").write_text("[global]\n\tfsid = 0a0b\n")
    with pytest.raises(StoreConfigError) as caught:
        driver_class("rbd")(ceph_conf=str(tmp_path / "ceph.conf"), chunk_size=3)
    assert caught.value.option == "chunk_size"
    store = driver_class("rbd")(ceph_conf=str(tmp_path / "ceph.conf"), pool="vms", chunk_size="8")
    assert store.url_for("abc") == "rbd://0a0b/vms/abc/snap"  # from ceph.conf: no cluster contacted


@pytest.mark.parametrize(("features", "says"), [
    ("layering,journaling", "unknown feature(s) journaling"),
    ("deep-flatten", "must include layering"),
    ("layering,object-map", "object-map needs exclusive-lock"),
    ("layering,exclusive-lock,fast-diff", "fast-diff needs object-map"),
])
def test_rbd_image_features_are_checked_by_name(features: str, says: str, tmp_path: Path,
                                                rados_bindings: None) -> None:
    (tmp_path / "ceph.conf").write_text("[global]\n\tfsid = 0a0b\n")
    with pytest.raises(StoreConfigError) as caught:
        driver_class("rbd")(ceph_conf=str(tmp_path / "ceph.conf"), image_features=features)
    assert caught.value.option == "image_features" and says in str(caught.value)


def test_rbd_images_have_no_exclusive_lock_unless_configured(tmp_path: Path, rados_bindings: None) -> None:
    import rbd

    (tmp_path / "ceph.conf").write_text("[global]\n\tfsid = 0a0b\n")
    plain = driver_class("rbd")(ceph_conf=str(tmp_path / "ceph.conf"))
    assert plain.features == rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_DEEP_FLATTEN
    full = driver_class("rbd")(ceph_conf=str(tmp_path / "ceph.conf"),
                               image_features="layering, exclusive-lock, object-map, fast-diff, deep-flatten")
    assert full.features == (rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP
                             | rbd.RBD_FEATURE_FAST_DIFF | rbd.RBD_FEATURE_DEEP_FLATTEN)


def test_glance_store_names_are_accepted() -> None:
    store = driver_class("s3")(host="s3.example.com:8443", access_key="AK", secret_key="SK", bucket="images",
                               bucket_url_format="path")
    assert store.url_for("img") == "s3+https://s3.example.com:8443/images/img"
    swift = driver_class("swift")(**{**SWIFT, "container": "glance", "multiple_containers_seed": 3})
    assert swift.url_for("abcdef") == "swift+http://127.0.0.1:1/auth/1.0/glance_abc/abcdef"


def test_keystone_v3_reads_project_and_user_the_glance_way_and_finds_the_endpoint() -> None:
    user, scope = keystone_scope("service:glance", project_name=None, user_domain_id="default",
                                 user_domain_name=None, project_domain_id="default", project_domain_name="Default",
                                 region="two", endpoint_type="internalURL", service_type="object-store")
    assert (user, scope.project_name, scope.interface, scope.project_domain_name) == (
        "glance", "service", "internal", "Default")
    catalog = {"token": {"catalog": [
        {"type": "image", "endpoints": [{"interface": "internal", "region_id": "two", "url": "http://img"}]},
        {"type": "object-store", "endpoints": [
            {"interface": "internal", "region_id": "one", "url": "http://one/v1/AUTH_p"},
            {"interface": "public", "region_id": "two", "url": "http://public/v1/AUTH_p"},
            {"interface": "internal", "region_id": "two", "url": "http://two/v1/AUTH_p"}]}]}}
    assert _catalog_url(catalog, scope) == "http://two/v1/AUTH_p"


def test_a_server_with_a_wrong_store_option_says_which_in_one_line(tmp_path: Path) -> None:
    stores = {"file": {"driver": "filesystem", "path": str(tmp_path / "f")},
              "objects": {"driver": "s3", **S3, "large_object_chunk_size": 2}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env["GLIMPSE_STORES"] = json.dumps(stores)
    result = subprocess.run([sys.executable, "-m", "glimpse.cli.serve", "--port", "0", "--data-dir", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "objects" in result.stderr and "large_object_chunk_size" in result.stderr
    assert "never-shown" not in result.stderr + result.stdout
