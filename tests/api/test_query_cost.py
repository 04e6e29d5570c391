"""No request holds the database longer than a bound: one query for any number of tags, and a
statement timeout on PostgreSQL and MariaDB that turns a runaway query into a 503."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import Server, start_server


@pytest.fixture(scope="module")
def bounded(database_url: str, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A node whose statements may run 1 s, allowing 1,000 tag filters (and request lines long enough for them)."""
    srv = start_server(tmp_path_factory.mktemp(f"bounded-{backend}"), database_url=database_url,
                       env={"GLIMPSE_DATABASE_STATEMENT_TIMEOUT": "1", "GLIMPSE_MAX_LIST_TAGS": "1000",
                            "GLIMPSE_MAX_REQUEST_LINE": "65536"})
    yield srv
    srv.stop()


def client(server: Server, project: str = "cost") -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Project-Id": project, "Accept": "application/json"},
                        timeout=60)


def test_a_thousand_tag_filters_are_one_cheap_query(bounded: Server, backend: str) -> None:
    with client(bounded) as http:
        tags = [f"t{i}" for i in range(1000)]
        for count in (2, 3):
            response = http.post("/v2/images", json={"name": f"tagged-{count}", "tags": tags[:count]})
            assert response.status_code == 201, response.text
        started = time.monotonic()
        response = http.get("/v2/images", params=[("tag", t) for t in tags])
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text  # per-tag EXISTS ran for minutes: 503 under 1 s
        assert response.json()["images"] == []
        assert elapsed < 5, f"{backend}: 1,000 tags took {elapsed:.1f} s"
        response = http.get("/v2/images", params=[("tag", t) for t in tags[:3]])
        assert [i["name"] for i in response.json()["images"]] == ["tagged-3"]


def _hold_lock(database_url: str, backend: str, held: threading.Event, release: threading.Event) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text("LOCK TABLE images IN ACCESS EXCLUSIVE MODE"))
            else:
                conn.execute(sa.text("LOCK TABLES images WRITE"))
            held.set()
            release.wait(30)
            if backend != "postgresql":
                conn.execute(sa.text("UNLOCK TABLES"))
            conn.rollback()
    finally:
        engine.dispose()


def test_a_statement_past_the_timeout_is_cancelled_with_a_503(bounded: Server, backend: str,
                                                               database_url: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no server to bound: statements run in the worker itself")
    held, release = threading.Event(), threading.Event()
    locker = threading.Thread(target=_hold_lock, args=(database_url, backend, held, release))
    locker.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with client(bounded) as http:
            response = http.get("/v2/images", params={"name": "anything"})
        elapsed = time.monotonic() - started
    finally:
        release.set()
        locker.join()
    assert response.status_code == 503, response.text
    assert "database_statement_timeout" in response.json()["message"]
    assert elapsed < 10
    with client(bounded) as http:  # the node is fine afterwards
        assert http.get("/v2/images").status_code == 200

