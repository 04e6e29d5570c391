"""copy-image between RBD pools of one Ceph cluster: a copy-on-write clone, flattened when its parent goes.

A real server with three rbd stores on the session's throw-away cluster (``tests/support/ceph.py``): ``ceph-a``
(the default, pool ``images``), ``ceph-b`` (a pool of its own) and ``ceph-full`` (another pool, with
``copy_on_write_clones = false``), plus a filesystem store. What the server says is checked against what the
cluster holds, read with the ``rbd`` bindings. Runs with ``GLIMPSE_TEST_REQUIRE_CEPH=1`` (skipped where Ceph
cannot start otherwise).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from glanceclient import Client

from tests.api.test_copy_image import last_task
from tests.conftest import Api, Server, start_server
from tests.stores.conftest import ceph, rados_bindings  # noqa: F401 - the session's Ceph cluster
from tests.support.ceph import CephCluster

MiB = 1024 * 1024


@dataclass
class Site:
    """The server, its stores' pools and a way to look at the cluster."""

    server: Server
    ceph: CephCluster
    pools: dict[str, str]
    files: Path
    env: dict[str, str]

    def _cluster(self) -> Any:
        import rados

        env = self.ceph.env
        return rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"], conf={"keyring": env["CEPH_KEYRING"]})

    def rbd_images(self, store: str) -> set[str]:
        import rbd

        with self._cluster() as cluster, cluster.open_ioctx(self.pools[store]) as ioctx:
            return set(rbd.RBD().list(ioctx))

    def parent(self, store: str, name: str) -> dict[str, str] | None:
        """The parent of the RBD image (and of its ``snap``, which must agree); ``None`` when it has none."""
        import rbd

        parents = []
        with self._cluster() as cluster, cluster.open_ioctx(self.pools[store]) as ioctx:
            for snapshot in (None, "snap"):
                with rbd.Image(ioctx, name, snapshot=snapshot, read_only=True) as image:
                    try:
                        parents.append(dict(image.get_parent_image_spec()))
                    except rbd.ImageNotFound:
                        parents.append(None)
        assert parents[0] == parents[1], parents
        return parents[0]

    def features(self, store: str, name: str) -> int:
        """The RBD feature bits of the image."""
        import rbd

        with self._cluster() as cluster, cluster.open_ioctx(self.pools[store]) as ioctx, \
                rbd.Image(ioctx, name, read_only=True) as image:
            return int(image.features())

    def sha256(self, store: str, name: str) -> str:
        """The digest of the RBD image's ``snap``, read with librbd."""
        import rbd

        digest = hashlib.sha256()
        with self._cluster() as cluster, cluster.open_ioctx(self.pools[store]) as ioctx, \
                rbd.Image(ioctx, name, snapshot="snap", read_only=True) as image:
            size, offset = image.size(), 0
            while offset < size:
                chunk = image.read(offset, min(4 * MiB, size - offset))
                digest.update(chunk)
                offset += len(chunk)
        return digest.hexdigest()

    def clone_by_hand(self, store: str, name: str, into: str, clone_name: str) -> None:
        """What Nova does to boot from an image: clone its ``snap`` (with no mark of ours)."""
        import rbd

        with self._cluster() as cluster, cluster.open_ioctx(self.pools[store]) as source, \
                cluster.open_ioctx(self.pools[into]) as target:
            rbd.RBD().clone(source, name, "snap", target, clone_name)

    def remove_by_hand(self, store: str, name: str) -> None:
        import rbd

        with self._cluster() as cluster, cluster.open_ioctx(self.pools[store]) as ioctx:
            rbd.RBD().remove(ioctx, name)


def create_pool(ceph: CephCluster, name: str) -> None:
    """A new pool for RBD images on the test cluster."""
    import rados

    env = ceph.env
    with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                     conf={"keyring": env["CEPH_KEYRING"]}) as cluster:
        for command in ({"prefix": "osd pool create", "pool": name, "pg_num": 8},
                        {"prefix": "osd pool application enable", "pool": name, "app": "rbd"}):
            status, _, error = cluster.mon_command(json.dumps(command), b"", timeout=30)
            assert status == 0, error


def rbd_store(ceph: CephCluster, pool: str, **options: Any) -> dict[str, Any]:
    env = ceph.env
    return {"driver": "rbd", "pool": pool, "user": env["CEPH_USER"], "ceph_conf": env["CEPH_CONF"],
            "keyring": env["CEPH_KEYRING"], "chunk_size": 1, **options}


@pytest.fixture(scope="module")
def site(ceph: CephCluster, rados_bindings: None,  # noqa: F811
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    suffix = uuid.uuid4().hex[:8]
    pools = {"ceph-a": ceph.env["CEPH_POOL"], "ceph-b": f"clones-{suffix}", "ceph-full": f"copies-{suffix}"}
    create_pool(ceph, pools["ceph-b"])
    create_pool(ceph, pools["ceph-full"])
    root = tmp_path_factory.mktemp("rbd-clones")
    stores = {"ceph-a": rbd_store(ceph, pools["ceph-a"]), "ceph-b": rbd_store(ceph, pools["ceph-b"]),
              "ceph-full": rbd_store(ceph, pools["ceph-full"], copy_on_write_clones=False),
              "file": {"driver": "filesystem", "path": str(root / "files")}}
    env = {"GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_DEFAULT_STORE": "ceph-a"}
    server = start_server(root / "node", env=env)
    try:
        yield Site(server, ceph, pools, root / "files", env)
    finally:
        server.stop()


@pytest.fixture
def api(site: Site) -> Iterator[Api]:
    client = Api(site.server.url, uuid.uuid4().hex, roles="admin,member,reader")
    yield client
    client.close()


def active_image(api: Api, data: bytes) -> dict[str, Any]:
    image = api.create(disk_format="raw", container_format="bare")
    assert api.upload(image["id"], data).status_code == 204
    shown = api.show(image["id"])
    assert shown["stores"] == "ceph-a"
    return shown


def copied(api: Api, image_id: str, *stores: str) -> dict[str, Any]:
    """copy-image into ``stores``; the finished task."""
    response = api.http.post(f"/v2/images/{image_id}/import",
                             json={"method": {"name": "copy-image"}, "stores": list(stores)})
    assert response.status_code == 202, response.text
    return last_task(api, image_id, timeout=60)


def download_sha256(api: Api, image_id: str, store: str) -> str:
    response = api.http.get(f"/v2/images/{image_id}/file", params={"prefer": store})
    assert response.status_code == 200, response.text
    return hashlib.sha256(response.content).hexdigest()


def test_copy_image_into_another_pool_is_a_clone_of_the_source_snapshot(api: Api, site: Site) -> None:
    data = os.urandom(3 * MiB + 123)
    image = active_image(api, data)
    glance = Client("2", endpoint=site.server.url, token="unused",
                    identity_headers={"X-Project-Id": api.project, "X-Roles": "admin,member,reader"})
    glance.images.image_import(image["id"], method="copy-image", stores=["ceph-b"])
    task = last_task(api, image["id"], timeout=60)
    assert task["status"] == "success", task
    after = api.show(image["id"])
    assert after["status"] == "active" and after["stores"] == "ceph-a,ceph-b"
    assert (after["size"], after["checksum"], after["os_hash_value"]) == (
        len(data), image["checksum"], image["os_hash_value"])
    assert site.parent("ceph-b", image["id"]) == {
        "pool_name": site.pools["ceph-a"], "pool_namespace": "", "image_name": image["id"], "snap_name": "snap"}
    expected = hashlib.sha256(data).hexdigest()
    assert site.sha256("ceph-b", image["id"]) == expected
    assert download_sha256(api, image["id"], "ceph-b") == expected
    import rbd  # no exclusive lock on what the driver makes (image_features, docs/stores.md)

    assert site.features("ceph-a", image["id"]) == site.features("ceph-b", image["id"]) == (
        rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_DEEP_FLATTEN)
    service = Api(site.server.url, api.project, roles="admin,service")  # locations: Nova, Cinder
    listed = service.http.get(f"/v2/images/{image['id']}/locations")
    service.close()
    assert listed.status_code == 200, listed.text
    assert [loc["url"] for loc in listed.json()] == [
        f"rbd://{site.ceph.env['CEPH_FSID']}/{site.pools[store]}/{image['id']}/snap" for store in ("ceph-a", "ceph-b")]


def test_copy_image_into_the_filesystem_store_streams_the_bytes(api: Api, site: Site) -> None:
    data = os.urandom(2 * MiB + 7)
    image = active_image(api, data)
    task = copied(api, image["id"], "file")
    assert task["status"] == "success", task
    after = api.show(image["id"])
    assert after["stores"] == "ceph-a,file" and after["os_hash_value"] == image["os_hash_value"]
    assert (site.files / image["id"]).read_bytes() == data
    assert download_sha256(api, image["id"], "file") == hashlib.sha256(data).hexdigest()


def test_deleting_the_source_copy_flattens_the_clone_which_keeps_its_bytes(api: Api, site: Site) -> None:
    data = os.urandom(3 * MiB + 1)
    image = active_image(api, data)
    assert copied(api, image["id"], "ceph-b")["status"] == "success"
    assert site.parent("ceph-b", image["id"]) is not None
    deleted = api.http.delete(f"/v2/stores/ceph-a/{image['id']}")
    assert deleted.status_code == 204, deleted.text
    assert image["id"] not in site.rbd_images("ceph-a")
    assert site.parent("ceph-b", image["id"]) is None
    after = api.show(image["id"])
    assert after["stores"] == "ceph-b" and after["os_hash_value"] == image["os_hash_value"]
    assert site.sha256("ceph-b", image["id"]) == hashlib.sha256(data).hexdigest()
    assert api.http.get(f"/v2/images/{image['id']}/file").content == data


def test_deleting_the_image_removes_the_source_and_its_clone(api: Api, site: Site) -> None:
    image = active_image(api, os.urandom(MiB + 5))
    assert copied(api, image["id"], "ceph-b")["status"] == "success"
    assert image["id"] in site.rbd_images("ceph-a") and image["id"] in site.rbd_images("ceph-b")
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert image["id"] not in site.rbd_images("ceph-a")
    assert image["id"] not in site.rbd_images("ceph-b")
    assert api.http.get(f"/v2/images/{image['id']}").status_code == 404


def test_a_clone_can_be_copied_on_and_deleted_like_any_copy(api: Api, site: Site) -> None:
    data = os.urandom(MiB + 9)
    image = active_image(api, data)
    assert copied(api, image["id"], "ceph-b")["status"] == "success"
    assert api.http.delete(f"/v2/stores/ceph-b/{image['id']}").status_code == 204
    assert image["id"] not in site.rbd_images("ceph-b")
    assert site.sha256("ceph-a", image["id"]) == hashlib.sha256(data).hexdigest()
    assert api.show(image["id"])["stores"] == "ceph-a"


def test_with_copy_on_write_clones_off_the_copy_is_a_full_copy(api: Api, site: Site) -> None:
    data = os.urandom(2 * MiB + 3)
    image = active_image(api, data)
    assert copied(api, image["id"], "ceph-full")["status"] == "success"
    assert api.show(image["id"])["stores"] == "ceph-a,ceph-full"
    assert site.parent("ceph-full", image["id"]) is None
    assert site.sha256("ceph-full", image["id"]) == hashlib.sha256(data).hexdigest()
    assert download_sha256(api, image["id"], "ceph-full") == hashlib.sha256(data).hexdigest()


def test_a_clone_made_by_someone_else_keeps_the_source_in_use(api: Api, site: Site) -> None:
    """Like Glance: an image Nova booted from (a clone without our mark) is not flattened behind its back."""
    data = os.urandom(MiB + 11)
    image = active_image(api, data)
    assert copied(api, image["id"], "ceph-b")["status"] == "success"
    disk = f"vm-disk-{image['id'][:8]}"
    site.clone_by_hand("ceph-a", image["id"], "ceph-full", disk)
    try:
        assert api.http.delete(f"/v2/stores/ceph-a/{image['id']}").status_code == 204  # the data stays, for cleanup
        assert image["id"] in site.rbd_images("ceph-a")
        assert site.sha256("ceph-a", image["id"]) == hashlib.sha256(data).hexdigest()
        assert site.parent("ceph-b", image["id"]) is not None  # nothing was flattened
        log = site.server.log.read_text()
        assert f"{site.pools['ceph-full']}/{disk}" in log and "in use" in log and "Traceback" not in log
    finally:
        site.remove_by_hand("ceph-full", disk)


def test_a_wrong_copy_on_write_clones_value_stops_start_up_naming_store_and_option(site: Site,
                                                                                  tmp_path: Path) -> None:
    stores = json.loads(site.env["GLIMPSE_STORES"])
    stores["ceph-b"]["copy_on_write_clones"] = "maybe"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env["GLIMPSE_STORES"] = json.dumps(stores)
    result = subprocess.run([sys.executable, "-m", "glimpse.cli.serve", "--port", "0", "--data-dir", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "copy_on_write_clones" in line]
    assert len(lines) == 1 and "ceph-b" in lines[0] and "maybe" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_the_arbiter_never_loads_librados_only_its_workers_do(api: Api, site: Site) -> None:
    # librados in a process that forks hands the children a client whose threads stayed behind (workers
    # died of "std::system_error: Invalid argument" in a clone): the arbiter reaches the stores from a
    # child of its own, and every worker connects after the fork.
    active_image(api, os.urandom(MiB))  # a worker has used the cluster
    def librados(pid: int) -> bool:
        return "librados.so" in Path(f"/proc/{pid}/maps").read_text()

    assert not librados(site.server.process.pid)
    assert any(librados(pid) for pid in site.server.worker_pids())
