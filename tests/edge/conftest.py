"""A node with short edge timeouts, shared by the raw-socket tests of one module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server

#: The edge settings of :func:`edge_server`: short, so that cut-offs happen within a test.
EDGE_ENV = {
    "GLIMPSE_REQUEST_HEAD_TIMEOUT": "2",
    "GLIMPSE_BODY_IDLE_TIMEOUT": "2",
    "GLIMPSE_BODY_MIN_RATE": "4096",
    "GLIMPSE_BODY_RATE_WINDOW": "3",
}


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("edge"), workers=1, env=EDGE_ENV)
    yield server
    server.stop()
