"""Nodes with the ``cache`` extension: several node processes on one PostgreSQL database and one shared store."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Api, Server, _server_database, start_server

MiB = 1024 * 1024
#: each node's cache holds at most this much: three images of 1.2 MiB do not fit
CACHE_MAX = 3 * MiB
ADMIN_ROLES = "admin,member,reader"


@dataclass
class Site:
    """One database, one shared store, and the nodes started on them."""

    root: Path
    database_url: str
    env: dict[str, str]
    started: list[Server]

    def node(self, name: str, *, workers: int = 1, extensions: list[str] | None = None,
             **settings: Any) -> Server:
        env = {**self.env, "GLIMPSE_EXTENSIONS": json.dumps(extensions if extensions is not None else ["cache"])}
        env.update({f"GLIMPSE_{key.upper()}": str(value) for key, value in settings.items()})
        server = start_server(self.root / name, database_url=self.database_url, env=env, workers=workers)
        self.started.append(server)
        return server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("cache-site")
    databases = _server_database("postgresql", root / "db")
    url = next(databases)
    env = {"GLIMPSE_STORES": json.dumps({"file": {"driver": "filesystem", "path": str(root / "shared" / "images")}}),
           "GLIMPSE_IMAGE_CACHE_MAX_SIZE": str(CACHE_MAX), "GLIMPSE_IMAGE_CACHE_INTERVAL": "0.3"}
    built = Site(root, url, env, [])
    try:
        yield built
    finally:
        for server in built.started:
            server.stop()
        databases.close()


@pytest.fixture(scope="module")
def registry(site: Site) -> Server:
    """The node images are created, uploaded and deleted through (no cache)."""
    return site.node("registry", extensions=[])


@pytest.fixture(scope="module")
def streaming(site: Site, registry: Server) -> Server:
    """A caching node of role ``streaming`` with two worker processes (metadata writes go to ``registry``)."""
    return site.node("streaming", workers=2, role="streaming", registry_endpoint=registry.url)


@pytest.fixture
def owner(registry: Server) -> Iterator[Api]:
    client = Api(registry.url, uuid.uuid4().hex)
    yield client
    client.close()


def cache_admin(server: Server) -> Api:
    return Api(server.url, uuid.uuid4().hex, roles=ADMIN_ROLES)


def uploaded(owner: Api, data: bytes, **fields: Any) -> dict[str, Any]:
    image = owner.create(name=fields.pop("name", "cached"), visibility="community", **fields)
    assert owner.upload(image["id"], data).status_code == 204
    return owner.show(image["id"])


def cached_ids(server: Server) -> list[str]:
    admin = cache_admin(server)
    try:
        listing = admin.http.get("/v2/cache")
        assert listing.status_code == 200, listing.text
        return [entry["image_id"] for entry in listing.json()["cached_images"]]
    finally:
        admin.close()


def wait_for(condition: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def download(server: Server, image_id: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}/v2/images/{image_id}/file", headers={"X-Project-Id": uuid.uuid4().hex,
                                                                         **headers}, timeout=60)
