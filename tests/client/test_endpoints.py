"""Registry/streaming split: two glimpse-api nodes sharing one database and store, behind counting proxies.

The version document of each node advertises ``registry`` = proxy A and
``streaming`` = proxy B. The client must send metadata calls to A and data
calls (``/file``, ``/stage``) to B. Until registry nodes answer data requests
with 307 themselves, proxy A plays that part in the redirect tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import glimpseclient
from glimpseclient import Client
from tests.client.proxy import Proxy
from tests.conftest import Server, start_server


@dataclass
class Split:
    registry: Proxy
    streaming: Proxy
    servers: list[Server]


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Split]:
    shared = tmp_path_factory.mktemp("split")
    registry, streaming = Proxy(), Proxy()
    env = {
        "GLIMPSE_DATABASE_URL": f"sqlite:///{shared / 'glimpse.db'}",
        "GLIMPSE_STORES": json.dumps({"file": {"driver": "filesystem", "path": str(shared / "images")}}),
        "GLIMPSE_REGISTRY_ENDPOINT": registry.url,
        "GLIMPSE_STREAMING_ENDPOINT": streaming.url,
    }
    first = start_server(shared / "registry-node", env=env)
    second = start_server(shared / "streaming-node", env=env)
    registry.upstream, streaming.upstream = first.url, second.url
    yield Split(registry, streaming, [first, second])
    for server in (first, second):
        server.stop()
    registry.stop()
    streaming.stop()


@pytest.fixture
def fresh(split: Split) -> Split:
    split.registry.clear()
    split.streaming.clear()
    split.registry.redirect_data_to = None
    return split


def test_discovery_reads_registry_and_streaming_links(fresh: Split) -> None:
    with Client(fresh.registry.url, project_id="p") as client:
        assert client.endpoints == glimpseclient.Endpoints(fresh.registry.url, fresh.streaming.url)
    assert fresh.registry.paths() == ["/versions"]


def test_metadata_goes_to_the_registry_and_data_to_the_streaming_node(fresh: Split, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    with Client(fresh.registry.url, project_id="p") as client:
        image = client.images.create(name="split", disk_format="raw", container_format="bare")
        client.images.upload(image.id, data)
        assert client.images.get(image.id).status == "active"
        client.images.download_to(image.id, tmp_path / "copy")
        client.images.add_tag(image.id, "t")
        client.images.delete(image.id)
    assert (tmp_path / "copy").read_bytes() == data
    assert fresh.streaming.data_requests() == [f"PUT /v2/images/{image.id}/file", f"GET /v2/images/{image.id}/file"]
    assert fresh.streaming.paths() == [f"/v2/images/{image.id}/file"] * 2
    assert fresh.registry.data_requests() == []
    assert fresh.registry.paths("POST") == ["/v2/images"]
    assert f"/v2/images/{image.id}/tags/t" in fresh.registry.paths("PUT")


def test_explicit_endpoints_override_discovery(fresh: Split) -> None:
    with Client(fresh.registry.url, project_id="p", registry_endpoint=fresh.streaming.url,
                streaming_endpoint=fresh.streaming.url) as client:
        image = client.images.create(name="explicit", disk_format="raw", container_format="bare")
        client.images.upload(image.id, b"abc")
    assert fresh.registry.paths() == []
    assert fresh.streaming.paths("POST") == ["/v2/images"]


def test_a_download_sent_to_the_registry_follows_its_307(fresh: Split) -> None:
    with Client(fresh.registry.url, project_id="p", discover=False) as client:
        image = client.images.create(name="redirected", disk_format="raw", container_format="bare")
        client.images.upload(image.id, b"payload" * 1000)
        fresh.registry.redirect_data_to = fresh.streaming.url
        with client.images.download(image.id) as download:
            assert b"".join(download) == b"payload" * 1000
    assert fresh.registry.data_requests()[-1] == f"GET /v2/images/{image.id}/file"
    assert fresh.streaming.data_requests() == [f"GET /v2/images/{image.id}/file"]


def test_an_upload_from_a_file_is_replayed_to_the_307_target(fresh: Split, tmp_path: Path) -> None:
    source = tmp_path / "disk.raw"
    source.write_bytes(os.urandom(200_000))
    with Client(fresh.registry.url, project_id="p", discover=False) as client:
        image = client.images.create(name="replayed", disk_format="raw", container_format="bare")
        fresh.registry.redirect_data_to = fresh.streaming.url
        client.images.upload(image.id, source)
        assert client.images.get(image.id).size == 200_000
    assert fresh.streaming.data_requests() == [f"PUT /v2/images/{image.id}/file"]


def test_an_upload_from_a_stream_cannot_be_replayed_and_says_what_to_do(fresh: Split) -> None:
    with Client(fresh.registry.url, project_id="p", discover=False) as client:
        image = client.images.create(name="stream", disk_format="raw", container_format="bare")
        fresh.registry.redirect_data_to = fresh.streaming.url
        with pytest.raises(glimpseclient.RedirectError, match="cannot be sent twice.*streaming"):
            client.images.upload(image.id, iter([b"a" * 1000, b"b" * 1000]))
        assert client.images.get(image.id).status == "queued"
    assert fresh.streaming.data_requests() == []
