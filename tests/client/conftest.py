"""Fixtures for the glimpseclient tests: one SQLite server for the whole run, fresh projects.

The client does not depend on the database backend, so these tests do not use
the backend-parametrized ``server`` fixture; they start their own server(s).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from glimpseclient import Client
from tests.client.proxy import Proxy
from tests.conftest import Server, start_server

MiB = 1024 * 1024


@pytest.fixture(scope="session")
def glimpse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("client-server"))
    yield server
    server.stop()


@pytest.fixture
def project() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def client(glimpse: Server, project: str) -> Iterator[Client]:
    with Client(glimpse.url, project_id=project, backoff=0.01) as c:
        yield c


@pytest.fixture
def proxy(glimpse: Server) -> Iterator[Proxy]:
    p = Proxy(glimpse.url)
    yield p
    p.stop()


@pytest.fixture
def proxied(proxy: Proxy, project: str) -> Iterator[Client]:
    """A client whose every request goes through ``proxy``."""
    with Client(proxy.url, project_id=project, backoff=0.01) as c:
        yield c


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "disk.raw"
    path.write_bytes(os.urandom(3 * MiB + 12345))
    return path
