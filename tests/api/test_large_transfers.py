"""A 1 GiB image through a real two-worker server: memory stays flat, every byte arrives."""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_server

MiB = 1024 * 1024
SIZE = 1024 * MiB
#: How much the server's resident memory may grow while moving 1 GiB (it holds a few MiB per transfer).
GROWTH_LIMIT_MIB = 100


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the arbiter and its workers), in MiB."""
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    total = 0
    for member in pids:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


class RssWatch:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.samples.append(tree_rss_mib(self.pid))

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("large"), workers=2)
    yield server
    server.stop()


def generated(size: int, digest: hashlib._Hash) -> Iterator[bytes]:
    block = os.urandom(MiB)
    for index in range(size // MiB):
        chunk = struct.pack("<Q", index) + block[8:]
        digest.update(chunk)
        yield chunk


def upload_watched(client: httpx.Client, server: Server, headers: dict[str, str]
                   ) -> tuple[str, hashlib._Hash, float, RssWatch]:
    """Upload SIZE bytes to a new image while watching the server's memory: (image id, digest sent,
    baseline RSS before, the watch)."""
    image = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
    # Warm up both workers so the baseline includes what any request allocates.
    for _ in range(10):
        httpx.get(f"{server.url}/v2/images/{image['id']}", headers=dict(client.headers))
    baseline = tree_rss_mib(server.process.pid)
    sent = hashlib.md5()
    with RssWatch(server.process.pid) as watch:
        response = client.put(f"/v2/images/{image['id']}/file", content=generated(SIZE, sent),
                              headers={"Content-Type": "application/octet-stream", **headers})
    assert response.status_code == 204, response.text
    shown = client.get(f"/v2/images/{image['id']}").json()
    assert shown["size"] == SIZE and shown["checksum"] == sent.hexdigest()
    assert watch.samples
    assert max(watch.samples) - baseline < GROWTH_LIMIT_MIB, (baseline, max(watch.samples))
    return image["id"], sent, baseline, watch


def test_one_gib_upload_and_download_keep_server_memory_flat(big_server: Server) -> None:
    with httpx.Client(base_url=big_server.url, headers={"X-Project-Id": uuid.uuid4().hex}, timeout=600) as client:
        image_id, sent, baseline, _watch = upload_watched(client, big_server, {})  # chunked
        received = hashlib.md5()
        count = 0
        with RssWatch(big_server.process.pid) as download_watch:
            with client.stream("GET", f"/v2/images/{image_id}/file") as download:
                assert download.status_code == 200
                for chunk in download.iter_raw(4 * MiB):
                    received.update(chunk)
                    count += len(chunk)
        assert count == SIZE and received.hexdigest() == sent.hexdigest()
    assert download_watch.samples
    assert max(download_watch.samples) - baseline < GROWTH_LIMIT_MIB, (baseline, max(download_watch.samples))


def test_one_gib_sized_upload_read_from_the_socket_keeps_server_memory_flat(big_server: Server) -> None:
    # With a Content-Length the body is read from the socket into a few reused buffers (server/socket_body.py).
    with httpx.Client(base_url=big_server.url, headers={"X-Project-Id": uuid.uuid4().hex}, timeout=600) as client:
        upload_watched(client, big_server, {"Content-Length": str(SIZE)})
