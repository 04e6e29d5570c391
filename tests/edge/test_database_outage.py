"""A PostgreSQL database that goes away under a running node: 503 with Retry-After on every API path
(never 500, never the driver's text), health 503, and everything back once the database returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import ADMIN_URLS, Api, Server, _server_database, start_server
from tests.support.raw_http import RawConnection, request_head


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server_database("postgresql", tmp_path_factory.mktemp("outage-db"))


@pytest.fixture(scope="module")
def node(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("outage-node"), database_url=database, workers=1)
    yield server
    server.stop()


def set_connections(database: str, allowed: bool) -> None:
    """Let clients connect to ``database`` or not; when not, end the connections it has."""
    name = sa.engine.make_url(database).database
    admin = sa.create_engine(ADMIN_URLS["postgresql"], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'true' if allowed else 'false'}"))
            if not allowed:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                             {"name": name})
    finally:
        admin.dispose()


def health_once(node: Server, status: int) -> httpx.Response:
    """``/healthcheck`` once it answers ``status`` (results are reused for a second), or after 20 s."""
    deadline = time.monotonic() + 20
    while True:
        response = httpx.get(f"{node.url}/healthcheck", timeout=10, headers={"Accept": "text/plain"})
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_a_database_outage_gives_503_with_retry_after_and_recovery_gives_200(node: Server, database: str) -> None:
    api = Api(node.url, uuid.uuid4().hex)
    image_id = api.create(name="before")["id"]
    set_connections(database, allowed=False)
    try:
        answers = {
            "list": api.http.get("/v2/images"),
            "show": api.http.get(f"/v2/images/{uuid.uuid4()}"),  # not in the node's cache: asks the database
            "create": api.http.post("/v2/images", json={"name": "during"}),
            "update": api.http.patch(f"/v2/images/{image_id}", json=[{"op": "add", "path": "/x", "value": "1"}],
                                     headers={"Content-Type": "application/openstack-images-v2.1-json-patch"}),
            "upload": api.upload(image_id, b"data"),
        }
        for name, response in answers.items():
            assert response.status_code == 503, (name, response.status_code, response.text)
            assert response.headers["retry-after"].isdigit(), name
            assert "unavailable" in response.json()["message"], name
            assert "5432" not in response.text and "psycopg" not in response.text, name
        health = health_once(node, 503)
        assert health.status_code == 503 and health.text == "UNHEALTHY"
        detail = httpx.get(f"{node.url}/healthcheck?detail", timeout=10).json()
        assert detail["checks"]["database"] == {"ok": False, "detail": "unreachable"}
        assert "5432" not in str(detail)
    finally:
        set_connections(database, allowed=True)
    deadline = time.monotonic() + 20
    while api.http.get("/v2/images").status_code != 200:
        assert time.monotonic() < deadline, "the node did not recover"
        time.sleep(0.2)
    assert api.show(image_id)["status"] == "queued"
    assert health_once(node, 200).status_code == 200
    api.close()


def test_a_503_on_a_keep_alive_connection_says_connection_close(node: Server, database: str) -> None:
    conn = RawConnection(node.url)
    project = uuid.uuid4().hex
    list_images = request_head("GET", "/v2/images", f"X-Project-Id: {project}")
    try:
        conn.send(list_images)
        assert conn.response().status == 200
        set_connections(database, allowed=False)
        try:
            conn.send(list_images)
            response = conn.response()
        finally:
            set_connections(database, allowed=True)
        assert response.status == 503
        assert response.headers["connection"] == "close"
        assert conn.closed_by_server()
    finally:
        conn.close()


def test_the_data_directory_holds_no_half_written_image_after_an_outage(node: Server) -> None:
    store = Path(node.data_dir) / "images"
    assert not [path for path in store.iterdir() if path.name.startswith(".incoming-")]


@pytest.fixture(scope="module")
def token_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server_database("postgresql", tmp_path_factory.mktemp("outage-token-db"))


def issue_token(database: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    result = subprocess.run([sys.executable, "-m", "glimpse.cli.manage", "--database-url", database, "token", "create",
                             "--project", "outage", "--user", "u"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    token: str = json.loads(result.stdout)["token"]
    return token


def test_authenticating_a_token_while_the_database_is_away_is_503_not_401_or_500(
        token_database: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(tmp_path_factory.mktemp("outage-token-node"), database_url=token_database, workers=1,
                          env={"GLIMPSE_AUTH_STRATEGY": "tokens"})
    try:
        token = issue_token(token_database)  # never seen by the node: checking it needs the database
        set_connections(token_database, allowed=False)
        try:
            response = httpx.get(f"{server.url}/v2/images", headers={"X-Auth-Token": token}, timeout=30)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"].isdigit()
            assert "5432" not in response.text and "psycopg" not in response.text
        finally:
            set_connections(token_database, allowed=True)
        deadline = time.monotonic() + 20
        while (answer := httpx.get(f"{server.url}/v2/images", headers={"X-Auth-Token": token}, timeout=30)
               ).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
    finally:
        server.stop()
