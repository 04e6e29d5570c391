"""Import across nodes on real remote storage: two API nodes on one PostgreSQL with distinct data dirs, the
default store and the staging area in Ceph S3 (radosgw, ``tests/support/ceph.py``), a filesystem store beside it.

Nothing is shared between the nodes but the database and the object store: staging defaults to the default
store when it is remote. Runs with ``GLIMPSE_TEST_REQUIRE_CEPH=1`` (skipped where Ceph cannot start otherwise).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Server, _server_database, start_server
from tests.stores.conftest import ceph, rados_bindings  # noqa: F401 - the session's Ceph cluster
from tests.support.ceph import CephCluster
from tests.support.web import serve_files


@dataclass
class Site:
    a: Server
    b: Server
    env: dict[str, str]
    database_url: str
    bucket: str
    s3: Any
    files: Path
    root: Path

    def objects(self) -> set[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {str(entry["Key"]) for entry in listed}

    def uploads(self) -> set[str]:
        return {str(u["Key"]) for u in self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])}

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
        return subprocess.run([sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(self.root / "manage"),
                               "--database-url", self.database_url, *args], capture_output=True, text=True,
                              timeout=120, env={**environment, **self.env})


@pytest.fixture(scope="module")
def site(ceph: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:  # noqa: F811
    import boto3

    root = tmp_path_factory.mktemp("ceph-nodes")
    databases = _server_database("postgresql", root / "db")
    url = next(databases)
    env_s3 = ceph.env
    bucket = f"nodes-{uuid.uuid4().hex[:12]}"
    files = root / "file-store"
    stores = {"s3": {"driver": "s3", "endpoint": env_s3["S3_ENDPOINT"], "access_key": env_s3["S3_ACCESS_KEY"],
                     "secret_key": env_s3["S3_SECRET_KEY"], "bucket": bucket, "create_bucket_on_put": True,
                     "addressing_style": "path", "large_object_size": 5, "large_object_chunk_size": 5},
              "file": {"driver": "filesystem", "path": str(files)}}
    env = {"GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_DEFAULT_STORE": "s3",
           "GLIMPSE_UPLOAD_LEASE_SECONDS": "1", "GLIMPSE_IMPORT_LEASE_SECONDS": "3",
           "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]", "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'}
    client = boto3.client("s3", endpoint_url=env_s3["S3_ENDPOINT"], aws_access_key_id=env_s3["S3_ACCESS_KEY"],
                          aws_secret_access_key=env_s3["S3_SECRET_KEY"], region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    node_a = start_server(root / "node-a", database_url=url, env=env)
    node_b = start_server(root / "node-b", database_url=url, env=env)
    try:
        yield Site(node_a, node_b, env, url, bucket, client, files, root)
    finally:
        node_a.stop()
        node_b.stop()
        databases.close()


def wait_status(api: Api, image_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (image := api.show(image_id))["status"] != status:
        assert time.monotonic() < deadline, image
        time.sleep(0.1)
    return image


def test_staged_in_s3_on_one_node_and_imported_on_the_other(site: Site) -> None:
    project = uuid.uuid4().hex
    on_a, on_b = Api(site.a.url, project), Api(site.b.url, project)
    data = os.urandom(12 * 1024 * 1024 + 5)  # a multipart object
    image = on_a.create(disk_format="raw", container_format="bare")
    staged = on_a.http.put(f"/v2/images/{image['id']}/stage", content=data,
                           headers={"Content-Type": "application/octet-stream"})
    assert staged.status_code == 204, staged.text
    assert f"os_glance_staging_{image['id']}" in site.objects()  # in the object store, not on node A's disk
    assert not (site.a.data_dir / "staging" / image["id"]).exists()
    started = on_b.http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "glance-direct"}})
    assert started.status_code == 202, started.text
    active = wait_status(on_b, image["id"], "active")
    assert (active["size"], active["stores"]) == (len(data), "s3")
    assert active["checksum"] == hashlib.md5(data).hexdigest()
    assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert on_a.http.get(f"/v2/images/{image['id']}/file").content == data
    objects = site.objects()
    assert image["id"] in objects and f"os_glance_staging_{image['id']}" not in objects
    assert on_a.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]["status"] == "success"


def test_copy_image_from_the_file_store_into_s3_on_the_other_node(site: Site) -> None:
    project = uuid.uuid4().hex
    on_a, on_b = Api(site.a.url, project), Api(site.b.url, project)
    data = os.urandom(3 * 1024 * 1024)
    image = on_a.create(disk_format="raw", container_format="bare")
    assert on_a.upload(image["id"], data, **{"X-Image-Meta-Store": "file"}).status_code == 204
    assert on_a.show(image["id"])["stores"] == "file"
    copied = on_b.http.post(f"/v2/images/{image['id']}/import",
                            json={"method": {"name": "copy-image"}, "stores": ["s3"]})
    assert copied.status_code == 202, copied.text
    deadline = time.monotonic() + 60
    while (after := on_a.show(image["id"])).get("os_glance_import_task"):
        assert time.monotonic() < deadline, after
        time.sleep(0.1)
    assert after["status"] == "active" and after["stores"] == "file,s3", after
    assert (site.files / image["id"]).read_bytes() == data
    assert site.s3.get_object(Bucket=site.bucket, Key=image["id"])["Body"].read() == data
    assert on_b.http.get(f"/v2/images/{image['id']}/file").content == data


def test_a_killed_importing_node_is_failed_by_another_and_the_sweep_leaves_no_orphan(site: Site) -> None:
    project = uuid.uuid4().hex
    doomed = start_server(site.root / f"doomed-{uuid.uuid4().hex[:6]}", database_url=site.database_url,
                          env=site.env)
    try:
        on_doomed, on_b = Api(doomed.url, project), Api(site.b.url, project)
        image = on_doomed.create(disk_format="raw", container_format="bare")
        with serve_files() as base:
            started = on_doomed.http.post(f"/v2/images/{image['id']}/import", json={
                "method": {"name": "web-download", "uri": f"{base}/slow"}})
            assert started.status_code == 202, started.text
            wait_status(on_doomed, image["id"], "importing")
            time.sleep(1)  # bytes are on their way into S3
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait(10)
            queued = wait_status(on_b, image["id"], "queued")  # node B's sweep: the lease expired
        assert "os_glance_import_task" not in queued
        task = on_b.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]
        assert task["status"] == "failure" and "went away" in task["message"]
    finally:
        doomed.stop()
    cleaned = site.manage("cleanup", "--stale-minutes", "0")
    assert cleaned.returncode == 0, cleaned.stderr
    swept = site.manage("orphans", "--delete")
    assert swept.returncode == 0, swept.stderr
    assert image["id"] not in site.objects() and image["id"] not in site.uploads()
    waiting = on_b.create(disk_format="raw", container_format="bare")  # staged data is no orphan of the bucket
    assert on_b.http.put(f"/v2/images/{waiting['id']}/stage", content=b"waiting",
                         headers={"Content-Type": "application/octet-stream"}).status_code == 204
    assert f"os_glance_staging_{waiting['id']}" in site.objects()
    listed = site.manage("orphans")
    assert listed.returncode == 0 and listed.stdout.strip() == "no orphans", listed.stdout


def test_staged_in_an_rbd_pool_the_import_renames_the_rbd_image(ceph: CephCluster, rados_bindings: None,  # noqa: F811
                                                                 tmp_path: Path) -> None:
    """With an rbd default store, staging is in the same pool and the import renames the staged RBD image."""
    import rados
    import rbd

    env = ceph.env
    store = {"driver": "rbd", "pool": env["CEPH_POOL"], "user": env["CEPH_USER"], "ceph_conf": env["CEPH_CONF"],
             "keyring": env["CEPH_KEYRING"], "chunk_size": 1}
    server = start_server(tmp_path / "rbd-node", env={"GLIMPSE_STORES": json.dumps({"ceph": store}),
                                                      "GLIMPSE_DEFAULT_STORE": "ceph"})

    def names() -> set[str]:
        with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                         conf={"keyring": env["CEPH_KEYRING"]}) as cluster, \
                cluster.open_ioctx(env["CEPH_POOL"]) as ioctx:
            return set(rbd.RBD().list(ioctx))

    try:
        api = Api(server.url, uuid.uuid4().hex)
        data = os.urandom(3 * 1024 * 1024 + 17)
        image = api.create(disk_format="raw", container_format="bare")
        assert api.http.put(f"/v2/images/{image['id']}/stage", content=data,
                            headers={"Content-Type": "application/octet-stream"}).status_code == 204
        assert f"os_glance_staging_{image['id']}" in names()
        assert api.http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "glance-direct"}}).status_code == 202
        active = wait_status(api, image["id"], "active")
        assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()
        now = names()
        assert image["id"] in now and f"os_glance_staging_{image['id']}" not in now
        assert api.http.get(f"/v2/images/{image['id']}/file").content == data
        assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
        assert image["id"] not in names()
    finally:
        server.stop()
