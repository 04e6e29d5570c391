"""The drivers the contract suite runs against: each hooks in here with one small function.

A function gets the pytest request (to ask for fixtures such as ``ceph``) and
returns a :class:`DriverUnderTest`: the store, a way to list what the backend
holds with the backend's own client, and variants pointed at a closed port or
given wrong credentials.
"""

from __future__ import annotations

import configparser
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from glimpse.stores.base import Store
from glimpse.stores.loader import driver_class
from tests.support.ceph import CephCluster, free_port

MiB = 1024 * 1024


@dataclass
class DriverUnderTest:
    store: Store
    #: names the backend holds that start with ``prefix`` (the backend's own client: listing, ``rbd ls``)
    names: Callable[[], set[str]]
    #: bytes a driver buffers per write (part, segment, RBD chunk): the contract tests sizes around it
    chunk: int
    #: bytes of the large-stream test
    large: int
    #: the same driver pointed at a closed port (None: there is no network in between)
    unreachable: Callable[[], Store] | None = None
    #: the same driver with a wrong secret (None: nothing to get wrong)
    refused: Callable[[], Store] | None = None
    #: strings that must never show in an error message or a log line
    secrets: list[str] = field(default_factory=list)
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}-")

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


DRIVERS: dict[str, Callable[[pytest.FixtureRequest], DriverUnderTest]] = {}


def register(name: str) -> Callable[[Callable[[pytest.FixtureRequest], DriverUnderTest]],
                                    Callable[[pytest.FixtureRequest], DriverUnderTest]]:
    def add(factory: Callable[[pytest.FixtureRequest], DriverUnderTest]) -> Callable[..., DriverUnderTest]:
        DRIVERS[name] = factory
        return factory
    return add


def make(driver: str, **options: Any) -> Store:
    """A store made the way the server makes it: by entry-point name and options."""
    store: Store = driver_class(driver)(**options)
    return store


@register("filesystem")
def filesystem(request: pytest.FixtureRequest) -> DriverUnderTest:
    root = request.getfixturevalue("tmp_path") / "objects"
    store = make("filesystem", path=str(root))
    dut = DriverUnderTest(store, names=lambda: set(), chunk=MiB, large=1024 * MiB)
    dut.names = lambda: {p.name for p in Path(root).iterdir() if dut.prefix in p.name}
    return dut


@register("rbd")
def rbd_driver(request: pytest.FixtureRequest) -> DriverUnderTest:
    ceph: CephCluster = request.getfixturevalue("ceph")
    request.getfixturevalue("rados_bindings")
    import rados
    import rbd

    env = ceph.env
    options = {"pool": env["CEPH_POOL"], "user": env["CEPH_USER"], "ceph_conf": env["CEPH_CONF"],
               "keyring": env["CEPH_KEYRING"], "chunk_size": 1}

    def names() -> set[str]:
        with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                         conf={"keyring": env["CEPH_KEYRING"]}) as cluster, \
                cluster.open_ioctx(env["CEPH_POOL"]) as ioctx:
            return {name for name in rbd.RBD().list(ioctx) if name.startswith(dut.prefix)}

    def unreachable() -> Store:
        conf = request.getfixturevalue("tmp_path") / "closed-ceph.conf"
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(env["CEPH_CONF"])
        parser["global"]["mon host"] = f"v2:127.0.0.1:{free_port()}"
        with open(conf, "w") as out:
            parser.write(out)
        return make("rbd", **{**options, "ceph_conf": str(conf), "connect_timeout": 1})

    def refused() -> Store:
        keyring = request.getfixturevalue("tmp_path") / "wrong.keyring"
        keyring.write_text("[client.admin]\n\tkey = AQBvaVFmAAAAABAAz0Ik+dd0eJ8Vh6Q4UlRoMw==\n")
        return make("rbd", **{**options, "keyring": str(keyring), "connect_timeout": 1})

    admin_key = _keyring_secret(Path(env["CEPH_KEYRING"]), "client.admin")
    dut = DriverUnderTest(make("rbd", **options), names=names, chunk=MiB, large=256 * MiB,
                          unreachable=unreachable, refused=refused, secrets=[admin_key])
    return dut


@register("s3")
def s3_driver(request: pytest.FixtureRequest) -> DriverUnderTest:
    ceph: CephCluster = request.getfixturevalue("ceph")
    import boto3

    env = ceph.env
    bucket = f"contract-{uuid.uuid4().hex[:12]}"
    options = {"endpoint": env["S3_ENDPOINT"], "access_key": env["S3_ACCESS_KEY"],
               "secret_key": env["S3_SECRET_KEY"], "bucket": bucket, "create_bucket_on_put": True,
               "addressing_style": "path", "large_object_size": 5, "large_object_chunk_size": 5}
    client = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], aws_access_key_id=env["S3_ACCESS_KEY"],
                          aws_secret_access_key=env["S3_SECRET_KEY"], region_name="us-east-1")

    def names() -> set[str]:
        try:
            listed = client.list_objects_v2(Bucket=bucket, Prefix=dut.prefix).get("Contents", [])
            uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=dut.prefix).get("Uploads", [])
        except client.exceptions.NoSuchBucket:
            return set()
        return {o["Key"] for o in listed} | {f"multipart:{u['Key']}" for u in uploads}

    dut = DriverUnderTest(
        make("s3", **options), names=names, chunk=5 * MiB, large=256 * MiB,
        unreachable=lambda: make("s3", **{**options, "endpoint": f"http://127.0.0.1:{free_port()}"}),
        refused=lambda: make("s3", **{**options, "secret_key": "wrong" + env["S3_SECRET_KEY"][5:]}),
        secrets=[env["S3_SECRET_KEY"]])
    return dut


@register("swift")
def swift_driver(request: pytest.FixtureRequest) -> DriverUnderTest:
    ceph: CephCluster = request.getfixturevalue("ceph")
    env = ceph.env
    container = f"contract-{uuid.uuid4().hex[:12]}"
    options = {"auth_address": env["SWIFT_AUTH_URL"], "auth_version": 1, "user": env["SWIFT_USER"],
               "key": env["SWIFT_KEY"], "container": container, "create_container_on_put": True,
               "large_object_size": 1, "large_object_chunk_size": 1}

    def names() -> set[str]:
        signed = httpx.get(env["SWIFT_AUTH_URL"], headers={"X-Auth-User": env["SWIFT_USER"],
                                                          "X-Auth-Key": env["SWIFT_KEY"]})
        listing = httpx.get(f"{signed.headers['X-Storage-Url']}/{container}",
                            params={"format": "json", "prefix": dut.prefix},
                            headers={"X-Auth-Token": signed.headers["X-Auth-Token"]})
        if listing.status_code == 404:
            return set()
        assert listing.status_code in (200, 204), listing.text
        return {entry["name"] for entry in listing.json()} if listing.status_code == 200 else set()

    closed = f"http://127.0.0.1:{free_port()}/auth/1.0"
    dut = DriverUnderTest(
        make("swift", **options), names=names, chunk=MiB, large=256 * MiB,
        unreachable=lambda: make("swift", **{**options, "auth_address": closed}),
        refused=lambda: make("swift", **{**options, "key": "wrong" + env["SWIFT_KEY"][5:]}),
        secrets=[env["SWIFT_KEY"]])
    return dut


def _keyring_secret(keyring: Path, entity: str) -> str:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(keyring)
    return parser[entity]["key"].strip()

