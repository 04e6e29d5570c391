"""The remote drivers behind a real server: glanceclient, openstacksdk and plain HTTP against rbd, s3 and swift.

One server per default store (rbd, s3, swift), each configured with all four
stores (``file`` too). What the server says is checked against what the backend
holds, read with the backend's own client.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import openstack
import pytest
from glanceclient import Client
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session

from tests.conftest import Api, Server, start_server
from tests.support.ceph import CephCluster

MiB = 1024 * 1024
REMOTE = ["rbd", "s3", "swift"]


@dataclass
class Backends:
    """Reads what each store holds with the backend's own client (None: not there)."""

    ceph: CephCluster
    file_root: Path
    bucket: str
    container: str

    def read(self, store: str, image_id: str) -> bytes | None:
        return getattr(self, f"_read_{store}")(image_id)  # type: ignore[no-any-return]

    def _read_file(self, image_id: str) -> bytes | None:
        path = self.file_root / image_id
        return path.read_bytes() if path.exists() else None

    def _read_s3(self, image_id: str) -> bytes | None:
        client = self.s3()
        try:
            return client.get_object(Bucket=self.bucket, Key=image_id)["Body"].read()  # type: ignore[no-any-return]
        except (client.exceptions.NoSuchKey, client.exceptions.NoSuchBucket):
            return None

    def s3(self) -> Any:
        import boto3

        env = self.ceph.env
        return boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], aws_access_key_id=env["S3_ACCESS_KEY"],
                            aws_secret_access_key=env["S3_SECRET_KEY"], region_name="us-east-1")

    def _read_swift(self, image_id: str) -> bytes | None:
        env = self.ceph.env
        signed = httpx.get(env["SWIFT_AUTH_URL"], headers={"X-Auth-User": env["SWIFT_USER"],
                                                          "X-Auth-Key": env["SWIFT_KEY"]})
        got = httpx.get(f"{signed.headers['X-Storage-Url']}/{self.container}/{image_id}",
                        headers={"X-Auth-Token": signed.headers["X-Auth-Token"]}, timeout=60)
        if got.status_code == 404:
            return None
        assert got.status_code == 200, got.status_code
        return got.content

    def _read_rbd(self, image_id: str) -> bytes | None:
        import rados
        import rbd

        env = self.ceph.env
        with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                         conf={"keyring": env["CEPH_KEYRING"]}) as cluster, \
                cluster.open_ioctx(env["CEPH_POOL"]) as ioctx:
            if image_id not in rbd.RBD().list(ioctx):
                return None
            with rbd.Image(ioctx, image_id, snapshot="snap", read_only=True) as image:
                return image.read(0, image.size())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def backends(ceph: CephCluster, rados_bindings: None, tmp_path_factory: pytest.TempPathFactory) -> Backends:
    return Backends(ceph, tmp_path_factory.mktemp("file-store"), f"api-{uuid.uuid4().hex[:12]}",
                    f"api-{uuid.uuid4().hex[:12]}")


def stores_config(backends: Backends) -> dict[str, dict[str, Any]]:
    env = backends.ceph.env
    return {
        "file": {"driver": "filesystem", "path": str(backends.file_root)},
        "rbd": {"driver": "rbd", "pool": env["CEPH_POOL"], "user": env["CEPH_USER"], "ceph_conf": env["CEPH_CONF"],
                "keyring": env["CEPH_KEYRING"], "chunk_size": 4},
        "s3": {"driver": "s3", "endpoint": env["S3_ENDPOINT"], "access_key": env["S3_ACCESS_KEY"],
               "secret_key": env["S3_SECRET_KEY"], "bucket": backends.bucket, "create_bucket_on_put": True,
               "addressing_style": "path", "large_object_size": 5, "large_object_chunk_size": 5},
        "swift": {"driver": "swift", "auth_address": env["SWIFT_AUTH_URL"], "auth_version": 1,
                  "user": env["SWIFT_USER"], "key": env["SWIFT_KEY"], "container": backends.container,
                  "create_container_on_put": True, "large_object_size": 2, "large_object_chunk_size": 1},
    }


@pytest.fixture(scope="module", params=REMOTE)
def remote(request: pytest.FixtureRequest, backends: Backends,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Server]]:
    """A server whose default store is rbd, s3 or swift; two workers, forked after the stores were checked."""
    server = start_server(tmp_path_factory.mktemp(f"remote-{request.param}"), workers=2, env={
        "GLIMPSE_STORES": json.dumps(stores_config(backends)), "GLIMPSE_DEFAULT_STORE": request.param})
    yield request.param, server
    server.stop()


def test_glanceclient_round_trips_through_the_default_store(remote: tuple[str, Server], backends: Backends) -> None:
    store, server = remote
    glance = Client("2", endpoint=server.url, token="unused", identity_headers={"X-Project-Id": uuid.uuid4().hex})
    data = os.urandom(6 * MiB + 5)
    image = glance.images.create(name="remote", disk_format="raw", container_format="bare")
    glance.images.upload(image["id"], io.BytesIO(data), image_size=len(data))
    shown = glance.images.get(image["id"])
    assert (shown["status"], shown["size"], shown["stores"]) == ("active", len(data), store)
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert b"".join(glance.images.data(image["id"])) == data  # glanceclient checks the hash as it reads
    assert backends.read(store, image["id"]) == data
    glance.images.delete(image["id"])
    assert backends.read(store, image["id"]) is None


def test_openstacksdk_round_trips_through_the_default_store(remote: tuple[str, Server], backends: Backends,
                                                           tmp_path: Path) -> None:
    store, server = remote
    session = ks_session.Session(auth=noauth.NoAuth(), additional_headers={"X-Project-Id": uuid.uuid4().hex})
    sdk = openstack.connection.Connection(session=session, image_endpoint_override=server.url)
    data = os.urandom(3 * MiB + 7)
    (tmp_path / "disk.raw").write_bytes(data)
    image = sdk.image.create_image(name="sdk-remote", filename=str(tmp_path / "disk.raw"), disk_format="raw",
                                   container_format="bare", validate_checksum=True, wait=True)
    assert image.status == "active" and image.size == len(data)
    assert sdk.image.download_image(sdk.image.get_image(image.id)).content == data
    assert backends.read(store, image.id) == data
    sdk.image.delete_image(image)
    assert backends.read(store, image.id) is None


@pytest.fixture(scope="module")
def four(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with the four stores, file by default."""
    server = start_server(tmp_path_factory.mktemp("four"), workers=1, env={
        "GLIMPSE_STORES": json.dumps(stores_config(backends)), "GLIMPSE_DEFAULT_STORE": "file"})
    yield server
    server.stop()


def test_one_server_puts_images_in_each_of_four_stores(four: Server, backends: Backends) -> None:
    api = Api(four.url, uuid.uuid4().hex)
    assert [s["id"] for s in api.http.get("/v2/info/stores").json()["stores"]] == ["file", "rbd", "s3", "swift"]
    images = {}
    for store in ("file", "rbd", "s3", "swift"):
        data = os.urandom(2 * MiB + len(store))
        image = api.create(name=f"in-{store}")
        assert api.upload(image["id"], data, **{"X-Image-Meta-Store": store}).status_code == 204
        images[store] = (image["id"], data)
    for store, (image_id, data) in images.items():
        shown = api.show(image_id)
        assert shown["stores"] == store and shown["status"] == "active"
        assert api.http.get(f"/v2/images/{image_id}/file").content == data
        ranged = api.http.get(f"/v2/images/{image_id}/file", headers={"Range": "bytes=1048570-1048585"})
        assert ranged.status_code == 206 and ranged.content == data[1048570:1048586]
        assert backends.read(store, image_id) == data
    for store, (image_id, _) in images.items():
        assert api.http.delete(f"/v2/images/{image_id}").status_code == 204
        assert backends.read(store, image_id) is None
    api.close()


def test_data_placed_in_a_remote_store_by_its_own_client_can_be_registered_as_a_location(
        four: Server, backends: Backends) -> None:
    owner = Api(four.url, uuid.uuid4().hex, roles="member,reader")
    service = Api(four.url, owner.project, roles="service,member,reader")
    urls = {store: info["url"] for store, info in _place_everywhere(backends).items()}
    for store, url in urls.items():
        image = owner.create(name=f"placed-{store}")
        response = service.http.post(f"/v2/images/{image['id']}/locations", json={"url": url})
        assert response.status_code == 202, (store, response.text)
        shown = owner.show(image["id"])
        assert (shown["status"], shown["stores"], shown["size"]) == ("active", store, 3 * MiB)
        assert owner.http.get(f"/v2/images/{image['id']}/file").content == PLACED
    owner.close()
    service.close()


PLACED = os.urandom(3 * MiB)


def _place_everywhere(backends: Backends) -> dict[str, dict[str, str]]:
    """Write PLACED into rbd, s3 and swift with each backend's own client; the URLs Glimpse gives them."""
    import rados
    import rbd

    env, key = backends.ceph.env, f"placed-{uuid.uuid4().hex[:8]}"
    with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                     conf={"keyring": env["CEPH_KEYRING"]}) as cluster, \
            cluster.open_ioctx(env["CEPH_POOL"]) as ioctx:
        rbd.RBD().create(ioctx, key, len(PLACED), old_format=False)
        with rbd.Image(ioctx, key) as image:
            image.write(PLACED, 0)
            image.create_snap("snap")
            image.protect_snap("snap")
    backends.s3().put_object(Bucket=backends.bucket, Key=key, Body=PLACED)
    signed = httpx.get(env["SWIFT_AUTH_URL"], headers={"X-Auth-User": env["SWIFT_USER"],
                                                      "X-Auth-Key": env["SWIFT_KEY"]})
    put = httpx.put(f"{signed.headers['X-Storage-Url']}/{backends.container}/{key}", content=PLACED,
                    headers={"X-Auth-Token": signed.headers["X-Auth-Token"]})
    assert put.status_code == 201
    host = env["S3_ENDPOINT"].removeprefix("http://")
    return {"rbd": {"url": f"rbd://{env['CEPH_FSID']}/{env['CEPH_POOL']}/{key}/snap"},
            "s3": {"url": f"s3://{host}/{backends.bucket}/{key}"},
            "swift": {"url": f"swift+http://{host}/auth/1.0/{backends.container}/{key}"}}


def test_glimpse_manage_store_check_probes_the_remote_stores(backends: Backends, tmp_path: Path) -> None:
    stores = stores_config(backends)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    command = [sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(tmp_path / "node"), "store", "check"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**env, "GLIMPSE_STORES": json.dumps(stores)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()[:4]] == [
        "store 'file' (filesystem)", "store 'rbd' (rbd)", "store 's3' (s3)", "store 'swift' (swift)"]

    secret = backends.ceph.env["S3_SECRET_KEY"]
    stores["s3"]["secret_key"] = "wrong" + secret[5:]
    failed = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**env, "GLIMPSE_STORES": json.dumps(stores)})
    assert failed.returncode == 1
    s3_line = failed.stdout.splitlines()[2]
    assert s3_line.startswith("store 's3' (s3): FAILED") and "refused our credentials" in s3_line
    assert secret[5:] not in failed.stdout + failed.stderr and "127.0.0.1" not in s3_line



def killing_midway(kill: Callable[[], None]) -> tuple[Iterator[bytes], threading.Thread]:
    """A 64 MiB upload body, and a started thread that runs ``kill`` once 12 MiB are sent (the body pauses 1 s)."""
    sent = threading.Event()

    def body() -> Iterator[bytes]:
        block = os.urandom(MiB)
        for n in range(64):
            if n == 12:
                sent.set()
                time.sleep(1.0)  # the backend goes away meanwhile
            yield block

    killer = threading.Thread(target=lambda: (sent.wait(30), kill()))
    killer.start()
    return body(), killer


def test_radosgw_killed_mid_upload_gives_503_and_nothing_partial(four: Server, backends: Backends) -> None:
    api = Api(four.url, uuid.uuid4().hex)
    image = api.create(name="interrupted")
    body, killer = killing_midway(backends.ceph.stop_rgw)
    try:
        response = api.http.put(f"/v2/images/{image['id']}/file", content=body,
                                headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "s3"})
    finally:
        killer.join()
        backends.ceph.start_rgw()
    assert response.status_code == 503, response.text
    assert "127.0.0.1" not in response.text and backends.ceph.env["S3_SECRET_KEY"] not in response.text
    assert api.show(image["id"])["status"] == "queued"
    listed = backends.s3().list_objects_v2(Bucket=backends.bucket, Prefix=image["id"]).get("Contents", [])
    assert listed == []

    data = os.urandom(7 * MiB)
    assert api.upload(image["id"], data, **{"X-Image-Meta-Store": "s3"}).status_code == 204
    assert backends.read("s3", image["id"]) == data
    assert api.http.get(f"/v2/images/{image['id']}/file").content == data
    api.close()


def test_osd_killed_mid_upload_gives_503_and_the_pool_keeps_nothing(backends: Backends, tmp_path: Path) -> None:
    """RBD with its only OSD killed mid-upload: 503, back to queued, no RBD image left once the OSD is back."""
    import rados
    import rbd

    stores = stores_config(backends)
    stores["rbd"].update(op_timeout=5, connect_timeout=5)
    server = start_server(tmp_path / "osd", workers=1, env={"GLIMPSE_STORES": json.dumps(stores),
                                                           "GLIMPSE_DEFAULT_STORE": "rbd"})
    env = backends.ceph.env
    api = Api(server.url, uuid.uuid4().hex)
    restarted = False
    try:
        image = api.create(name="osd-killed")
        body, killer = killing_midway(backends.ceph.stop_osd)
        try:
            response = api.http.put(f"/v2/images/{image['id']}/file", content=body,
                                    headers={"Content-Type": "application/octet-stream"}, timeout=120)
        finally:
            killer.join()
        assert response.status_code == 503, response.text
        assert "Retry-After" in response.headers
        for secret in ("127.0.0.1", env["CEPH_KEYRING"], "keyring", "client.admin"):
            assert secret not in response.text
        assert api.show(image["id"])["status"] == "queued"

        backends.ceph.start_osd()
        restarted = True
        deadline = time.monotonic() + 60
        with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                         conf={"keyring": env["CEPH_KEYRING"]}) as cluster, \
                cluster.open_ioctx(env["CEPH_POOL"]) as ioctx:
            while image["id"] in rbd.RBD().list(ioctx):  # the abort's removal, retried once the OSD answers
                assert time.monotonic() < deadline, "the aborted upload's RBD image is still in the pool"
                time.sleep(0.2)

        data = os.urandom(9 * MiB + 1)
        assert api.upload(image["id"], data).status_code == 204
        assert api.show(image["id"])["status"] == "active"
        assert backends.read("rbd", image["id"]) == data
        assert api.http.get(f"/v2/images/{image['id']}/file").content == data

        # The failed upload's record of the key is left for cleanup; it must not take the data written since.
        env_vars = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
        cleanup = subprocess.run([sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(server.data_dir),
                                  "cleanup", "--stale-minutes", "0"], capture_output=True, text=True, timeout=120,
                                 env={**env_vars, "GLIMPSE_STORES": json.dumps(stores)})
        assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
        assert "removed data of 0 location(s)" in cleanup.stdout, cleanup.stdout
        assert backends.read("rbd", image["id"]) == data
        assert api.http.get(f"/v2/images/{image['id']}/file").content == data
    finally:
        if not restarted:
            backends.ceph.start_osd()
        api.close()
        server.stop()


def test_locations_are_found_in_sharded_swift_containers(backends: Backends, tmp_path: Path) -> None:
    """``multiple_containers_seed``: each key in its own shard; the locations API finds the store by its URL."""
    stores = stores_config(backends)
    base = f"shard{uuid.uuid4().hex[:6]}"
    stores["swift"].update(container=base, multiple_containers_seed=3)
    server = start_server(tmp_path / "sharded", workers=1, env={"GLIMPSE_STORES": json.dumps(stores),
                                                               "GLIMPSE_DEFAULT_STORE": "swift"})
    env = backends.ceph.env
    owner = Api(server.url, uuid.uuid4().hex, roles="member,reader")
    service = Api(server.url, owner.project, roles="service,member,reader")
    signed = httpx.get(env["SWIFT_AUTH_URL"], headers={"X-Auth-User": env["SWIFT_USER"], "X-Auth-Key": env["SWIFT_KEY"]})
    storage, token = signed.headers["X-Storage-Url"], {"X-Auth-Token": signed.headers["X-Auth-Token"]}
    host = urlsplit(env["SWIFT_AUTH_URL"]).netloc
    try:
        uploaded = owner.create(name="through-glimpse")
        data = os.urandom(MiB + 3)
        assert owner.upload(uploaded["id"], data).status_code == 204
        listed = service.http.get(f"/v2/images/{uploaded['id']}/locations")
        assert listed.status_code == 200, listed.text
        url = f"swift+http://{host}/auth/1.0/{base}_{uploaded['id'][:3]}/{uploaded['id']}"
        assert [entry["url"] for entry in listed.json()] == [url]
        assert httpx.get(f"{storage}/{base}_{uploaded['id'][:3]}/{uploaded['id']}", headers=token).content == data

        key = str(uuid.uuid4())
        shard = f"{base}_{key[:3]}"
        assert httpx.put(f"{storage}/{shard}", headers=token).status_code in (201, 202)
        assert httpx.put(f"{storage}/{shard}/{key}", content=PLACED, headers=token).status_code == 201
        placed = owner.create(name="placed-in-a-shard")
        wrong = service.http.post(f"/v2/images/{placed['id']}/locations",
                                  json={"url": f"swift+http://{host}/auth/1.0/{base}_zzz/{key}"})
        assert wrong.status_code == 400 and "first 3 characters of the key" in wrong.text, wrong.text
        response = service.http.post(f"/v2/images/{placed['id']}/locations",
                                     json={"url": f"swift+http://{host}/auth/1.0/{shard}/{key}"})
        assert response.status_code == 202, response.text
        shown = owner.show(placed["id"])
        assert (shown["status"], shown["stores"], shown["size"]) == ("active", "swift", len(PLACED))
        assert owner.http.get(f"/v2/images/{placed['id']}/file").content == PLACED
    finally:
        owner.close()
        service.close()
        server.stop()


def test_rbd_purge_removes_its_own_leftovers_and_never_an_image_it_did_not_write(backends: Backends) -> None:
    """A pool shared with Cinder volumes: images without the upload mark are never purged, snapshot or not."""
    import gc

    import rados
    import rbd

    from tests.stores.drivers import make

    env = backends.ceph.env
    store = make("rbd", pool=env["CEPH_POOL"], user=env["CEPH_USER"], ceph_conf=env["CEPH_CONF"],
                 keyring=env["CEPH_KEYRING"], chunk_size=1)
    foreign, ours = f"volume-{uuid.uuid4().hex[:8]}", f"leftover-{uuid.uuid4().hex[:8]}"
    with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                     conf={"keyring": env["CEPH_KEYRING"]}) as cluster, \
            cluster.open_ioctx(env["CEPH_POOL"]) as ioctx:
        rbd.RBD().create(ioctx, foreign, MiB, old_format=False)
        pending = store.begin(ours, size=None)
        pending.write(os.urandom(3 * MiB))
        del pending  # a writer that crashed
        gc.collect()
        time.sleep(1.1)
        deadline = time.monotonic() + 30
        while ours in rbd.RBD().list(ioctx):
            assert time.monotonic() < deadline
            purged = store.purge_incomplete(older_than=1)  # type: ignore[attr-defined]
            assert foreign not in purged
            time.sleep(0.2)
        assert foreign in rbd.RBD().list(ioctx)
        rbd.RBD().remove(ioctx, foreign)
