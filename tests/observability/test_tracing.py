"""OpenTelemetry tracing, switched on by ``otel_enabled`` (runs only where the ``glimpse[otel]`` extra is
installed; the test extra installs it)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server

pytest.importorskip("opentelemetry.instrumentation.asgi", reason="the glimpse[otel] extra is not installed")
pytest.importorskip("opentelemetry.instrumentation.sqlalchemy", reason="the glimpse[otel] extra is not installed")


def spans(log: Path) -> list[dict[str, object]]:
    """The spans the console exporter wrote (pretty-printed JSON objects between the log lines)."""
    found, buffer, depth = [], [], 0
    for line in log.read_text().splitlines():
        if depth == 0 and line != "{":
            continue
        buffer.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            found.append(json.loads("\n".join(buffer)))
            buffer = []
    return found


def test_requests_and_their_sql_are_traced_when_switched_on(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"GLIMPSE_OTEL_ENABLED": "true", "OTEL_TRACES_EXPORTER": "console",
                                         "OTEL_SERVICE_NAME": "glimpse-test"})
    try:
        created = httpx.post(f"{server.url}/v2/images", json={"name": "traced"},
                             headers={"X-Project-Id": uuid.uuid4().hex})
        assert created.status_code == 201
    finally:
        server.stop()
    found = spans(server.log)
    request = [s for s in found if str(s["name"]).startswith("POST") and s.get("kind") == "SpanKind.SERVER"]
    assert request, [s["name"] for s in found]
    trace_id = request[0]["context"]["trace_id"]  # type: ignore[index]
    sql = [s for s in found if s["context"]["trace_id"] == trace_id  # type: ignore[index]
           and "db.system" in json.dumps(s.get("attributes", {}))]
    assert sql, "no SQL span in the request's trace"
    assert request[0]["resource"]["attributes"]["service.name"] == "glimpse-test"  # type: ignore[index]
    assert not any(str(s["name"]).startswith("GET /healthcheck") for s in found)  # health checks are not traced


def test_tracing_is_off_by_default(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"OTEL_TRACES_EXPORTER": "console"})
    try:
        assert httpx.get(f"{server.url}/v2/images", headers={"X-Project-Id": "p"}).status_code == 200
    finally:
        server.stop()
    assert spans(server.log) == []
