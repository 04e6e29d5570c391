#!/usr/bin/env python3
"""Upload and download of one image through Glimpse, per store driver, against the backend's own client.

In one run: a throw-away Ceph cluster (``scripts/ceph/up.sh``), one
``glimpse-api`` with four stores (``file``, ``rbd``, ``s3``, ``swift``, each with
its default options), and for each remote store the same bytes moved by the
backend's own client (boto3 with its defaults, librbd in 4 MiB writes, plain
HTTP for Swift). Prints one JSON document and a Markdown table. MB/s is 10^6
bytes per second over the transfer only; every download is checked by SHA-256.

Glimpse must compute an upload's MD5 (``checksum``) and SHA-512
(``os_hash_value``); the backend's own client computes neither. So each remote
store has a third row, "own client + digests": the own client's upload while
MD5 and SHA-512 digest the same file at the same time, on threads of their own,
as the ingest pipeline does (``glimpse.services.hashing``). That row is what
the machine allows an upload that does the work the API requires; its time
is the later of the two ends.

Every HTTP download (from Glimpse and from Swift) is read with ``http.client`` in
4 MiB reads, as boto3 reads from S3 (through urllib3): httpx reads a body 64 KiB at
a time through h11 and spent 4-5x the CPU per byte on this 2-core VM, CPU that the
server and the backend being measured then lacked.

    python bench/stores.py --size-mib 1024 --repeats 3
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glimpse.services.hashing import ParallelDigests  # noqa: E402
from tests.conftest import start_server  # noqa: E402
from tests.support.ceph import start_cluster, stop_cluster  # noqa: E402

MB = 1_000_000
CHUNK = 4 << 20


def digests_of(path: Path) -> None:
    """MD5 and SHA-512 of the file, each on its own thread, as the ingest pipeline computes them."""
    digests = ParallelDigests("md5", "sha512")
    try:
        for block in read_file(path):
            digests.update(block)
        digests.finish()
    finally:
        digests.close()


def read_file(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while block := source.read(CHUNK):
            yield block


def timed(action: Callable[[], Any], alongside: Callable[[], Any] | None = None) -> float:
    """Seconds ``action()`` takes; with ``alongside``, until both it and ``alongside()`` (on a thread) end."""
    helper = threading.Thread(target=alongside) if alongside is not None else None
    start = time.perf_counter()
    if helper is not None:
        helper.start()
    action()
    if helper is not None:
        helper.join()
    return time.perf_counter() - start


def sha256_of(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def http_get(url: str, headers: dict[str, str]) -> Iterator[bytes]:
    """The body of a GET of ``url``, read with ``http.client`` in ``CHUNK`` reads; checks it is all there."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=600)
    try:
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        assert response.status == 200, response.status
        expected, got = int(response.headers["Content-Length"]), 0
        while block := response.read(CHUNK):
            got += len(block)
            yield block
        assert got == expected, f"{got} of {expected} bytes"
    finally:
        connection.close()


def glimpse_rows(url: str, store: str, image: Path, expected: str) -> tuple[float, float]:
    headers = {"X-Project-Id": "bench", "X-Roles": "admin"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        image_id = client.post("/v2/images", json={"name": "bench", "disk_format": "raw",
                                                   "container_format": "bare"}).json()["id"]
        up = timed(lambda: _check(client.put(f"/v2/images/{image_id}/file", content=read_file(image), headers={
            "Content-Type": "application/octet-stream", "X-Image-Meta-Store": store,
            "Content-Length": str(image.stat().st_size)})))
        got: list[str] = []

        def download() -> None:
            got.append(sha256_of(http_get(f"{url}/v2/images/{image_id}/file", headers)))

        down = timed(download)
        assert got == [expected], f"{store}: downloaded bytes differ"
        client.delete(f"/v2/images/{image_id}")
    return up, down


def _check(response: httpx.Response) -> None:
    assert response.status_code == 204, response.text


OwnRows = Callable[[dict[str, str], Path, str, "Callable[[], Any] | None"], tuple[float, float]]


def s3_rows(env: dict[str, str], image: Path, expected: str,
            alongside: Callable[[], Any] | None = None) -> tuple[float, float]:
    import boto3

    client = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], aws_access_key_id=env["S3_ACCESS_KEY"],
                          aws_secret_access_key=env["S3_SECRET_KEY"], region_name="us-east-1")
    bucket, key = f"bench-{uuid.uuid4().hex[:8]}", "image"
    client.create_bucket(Bucket=bucket)
    up = timed(lambda: client.upload_file(str(image), bucket, key), alongside)
    got: list[str] = []
    down = timed(lambda: got.append(sha256_of(client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(CHUNK))))
    assert got == [expected]
    client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)
    return up, down


def rbd_rows(env: dict[str, str], image: Path, expected: str,
             alongside: Callable[[], Any] | None = None) -> tuple[float, float]:
    import rados
    import rbd

    size, name = image.stat().st_size, f"bench-{uuid.uuid4().hex[:8]}"
    with rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"], conf={"keyring": env["CEPH_KEYRING"]}) \
            as cluster, cluster.open_ioctx(env["CEPH_POOL"]) as ioctx:
        rbd.RBD().create(ioctx, name, size, old_format=False)

        def upload() -> None:
            with rbd.Image(ioctx, name) as target:
                offset = 0
                for block in read_file(image):
                    target.write(block, offset)
                    offset += len(block)
                target.flush()

        def download() -> None:
            with rbd.Image(ioctx, name, read_only=True) as source:
                got.append(sha256_of(source.read(o, min(CHUNK, size - o)) for o in range(0, size, CHUNK)))

        got: list[str] = []
        up, down = timed(upload, alongside), timed(download)
        assert got == [expected]
        rbd.RBD().remove(ioctx, name)
    return up, down


def swift_rows(env: dict[str, str], image: Path, expected: str,
               alongside: Callable[[], Any] | None = None) -> tuple[float, float]:
    signed = httpx.get(env["SWIFT_AUTH_URL"], headers={"X-Auth-User": env["SWIFT_USER"], "X-Auth-Key": env["SWIFT_KEY"]})
    base, token = signed.headers["X-Storage-Url"], signed.headers["X-Auth-Token"]
    container = f"bench-{uuid.uuid4().hex[:8]}"
    with httpx.Client(headers={"X-Auth-Token": token}, timeout=600) as client:
        client.put(f"{base}/{container}")
        up = timed(lambda: client.put(f"{base}/{container}/image", content=read_file(image)).raise_for_status(),
                   alongside)
        got: list[str] = []

        def download() -> None:
            got.append(sha256_of(http_get(f"{base}/{container}/image", {"X-Auth-Token": token})))

        down = timed(download)
        assert got == [expected]
        client.delete(f"{base}/{container}/image")
        client.delete(f"{base}/{container}")
    return up, down


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs of each row")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="glimpse-bench-stores-"))
    image = work / "image.bin"
    with open(image, "wb") as out:
        for _ in range(args.size_mib):
            out.write(os.urandom(1 << 20))
    expected = sha256_of(read_file(image))
    size = image.stat().st_size
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix="glimpse-ceph-")))
    env = cluster.env
    stores = {
        "file": {"driver": "filesystem", "path": str(work / "file-store")},
        "rbd": {"driver": "rbd", "pool": env["CEPH_POOL"], "user": env["CEPH_USER"], "ceph_conf": env["CEPH_CONF"],
                "keyring": env["CEPH_KEYRING"]},
        "s3": {"driver": "s3", "endpoint": env["S3_ENDPOINT"], "access_key": env["S3_ACCESS_KEY"],
               "secret_key": env["S3_SECRET_KEY"], "bucket": "glimpse", "create_bucket_on_put": True,
               "addressing_style": "path"},
        "swift": {"driver": "swift", "auth_address": env["SWIFT_AUTH_URL"], "auth_version": 1,
                  "user": env["SWIFT_USER"], "key": env["SWIFT_KEY"], "container": "glimpse",
                  "create_container_on_put": True},
    }
    server = start_server(work / "server", workers=1, env={"GLIMPSE_STORES": json.dumps(stores),
                                                           "GLIMPSE_DEFAULT_STORE": "file"})
    own: dict[str, OwnRows] = {"rbd": rbd_rows, "s3": s3_rows, "swift": swift_rows}
    ups: dict[str, list[float]] = {}
    downs: dict[str, list[float]] = {}
    try:
        for _ in range(args.repeats):  # interleaved, so a slow moment of the machine hits every row
            for store in ("file", "rbd", "s3", "swift"):
                rows: list[tuple[str, Callable[[], tuple[float, float]]]] = [
                    (f"glimpse {store}", functools.partial(glimpse_rows, server.url, store, image, expected))]
                if store in own:
                    rows += [(f"{store} own client", functools.partial(own[store], env, image, expected, None)),
                             (f"{store} own client + digests", functools.partial(
                                 own[store], env, image, expected, functools.partial(digests_of, image)))]
                for name, run in rows:
                    up, down = run()
                    ups.setdefault(name, []).append(size / MB / up)
                    downs.setdefault(name, []).append(size / MB / down)
    finally:
        server.stop()
        stop_cluster(cluster)
        subprocess.run(["rm", "-rf", str(work)], check=False)
    result = {name: {"upload_MBps": round(statistics.median(ups[name])),
                     "download_MBps": round(statistics.median(downs[name])), "runs": len(ups[name])} for name in ups}
    print(json.dumps({"size_MiB": args.size_mib, "rows": result}, indent=2))
    print("\n| path | upload MB/s | download MB/s |\n| --- | ---: | ---: |")
    for name, row in result.items():
        print(f"| {name} | {row['upload_MBps']} | {row['download_MBps']} |")
    print("\n| store | up / own client | up / own client + digests | down / own client |\n| --- | ---: | ---: | ---: |")
    for store in own:
        glimpse, plain, hashed = (result[f"glimpse {store}"], result[f"{store} own client"],
                                  result[f"{store} own client + digests"])
        print(f"| {store} | {glimpse['upload_MBps'] / plain['upload_MBps']:.2f}x "
              f"| {glimpse['upload_MBps'] / hashed['upload_MBps']:.2f}x "
              f"| {glimpse['download_MBps'] / plain['download_MBps']:.2f}x |")


if __name__ == "__main__":
    main()
