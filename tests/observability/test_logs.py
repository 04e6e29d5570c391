"""Log output of a real node: one access line per request, JSON lines, request ids everywhere, no secrets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import start_server

KEYSTONE_PASSWORD = "Ks-Pa55word-" + uuid.uuid4().hex[:8]
AMQP_PASSWORD = "Amqp-Pa55-" + uuid.uuid4().hex[:8]
BOGUS_TOKEN = "bogus-token-" + uuid.uuid4().hex


def manage(data_dir: Path, config: Path, *args: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    result = subprocess.run([sys.executable, "-m", "glimpse.cli.manage", "--config", str(config),
                             "--data-dir", str(data_dir), *args], capture_output=True, text=True, timeout=120,
                            env=environment)
    assert result.returncode == 0, result.stderr
    return result.stdout


def lines(log: Path) -> list[dict[str, Any]]:
    parsed = []
    for line in log.read_text().splitlines():
        parsed.append(json.loads(line))  # every line is a JSON object, start-up lines included
    return parsed


def test_a_token_workload_logs_json_access_lines_with_request_ids_and_no_secrets(tmp_path: Path, files: str) -> None:
    # a listening socket stands in for the broker: a configured broker must be reachable for the node
    # to be healthy, and its password must still never be logged
    broker = socket.create_server(("127.0.0.1", 0))
    data_dir = tmp_path / "node"
    config = tmp_path / "glimpse.toml"
    config.write_text(f'''
auth_strategy = "tokens"
log_format = "json"
keystone_password = "{KEYSTONE_PASSWORD}"
amqp_url = "amqp://glimpse:{AMQP_PASSWORD}@127.0.0.1:{broker.getsockname()[1]}/"
extensions = ["image-import"]
web_download_allowed_ports = []
web_download_allowed_networks = ["127.0.0.1/32"]
''')
    data_dir.mkdir()
    manage(data_dir, config, "db", "upgrade")
    issued = json.loads(manage(data_dir, config, "token", "create", "--project", "p-logs", "--user", "u-logs"))
    secret = issued["token"]
    server = start_server(data_dir, args=["--config", str(config)], log_level="debug", workers=2)
    try:
        headers = {"X-Auth-Token": secret}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            created = http.post("/v2/images", json={"name": "logged", "disk_format": "raw",
                                                    "container_format": "bare"})
            assert created.status_code == 201, created.text
            image_id = created.json()["id"]
            upload = http.put(f"/v2/images/{image_id}/file", content=b"z" * 5000,
                              headers={"Content-Type": "application/octet-stream"})
            assert upload.status_code == 204
            assert http.get(f"/v2/images/{image_id}").status_code == 200
            second = http.post("/v2/images", json={"name": "imported", "disk_format": "raw",
                                                   "container_format": "bare"}).json()
            imported = http.post(f"/v2/images/{second['id']}/import",
                                 json={"method": {"name": "web-download", "uri": f"{files}/missing"}})
            assert imported.status_code == 202
            deadline = time.monotonic() + 30
            while http.get(f"/v2/images/{second['id']}/tasks").json()["tasks"][0]["status"] != "failure":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        refused = httpx.get(f"{server.url}/v2/images", headers={"X-Auth-Token": BOGUS_TOKEN,
                                                                "Authorization": f"Bearer {BOGUS_TOKEN}"})
        assert refused.status_code == 401
    finally:
        server.stop()
        broker.close()

    text = server.log.read_text()
    for secret_text in (secret, KEYSTONE_PASSWORD, AMQP_PASSWORD, BOGUS_TOKEN):
        assert secret_text not in text
    records = lines(server.log)
    access = [r for r in records if r["logger"] == "glimpse.access"]
    upload_line = next(r for r in access if r["method"] == "PUT")
    assert upload_line["request_id"] == upload.headers["x-openstack-request-id"]
    assert upload_line["route"] == "/v2/images/{image_id}/file"
    assert upload_line["path"] == f"/v2/images/{image_id}/file"
    assert upload_line["status"] == 204 and upload_line["bytes_in"] == 5000 and upload_line["bytes_out"] == 0
    assert upload_line["project"] == "p-logs" and upload_line["user"] == "u-logs"
    assert upload_line["duration_ms"] > 0
    show_line = next(r for r in access if r["route"] == "/v2/images/{image_id}" and r["method"] == "GET")
    assert show_line["bytes_out"] > 0
    refused_line = next(r for r in access if r["status"] == 401)
    assert refused_line["project"] == "-"
    # one access line per request: 6 requests above, plus the tasks polls and health checks
    assert len({r["request_id"] for r in access}) == len(access)
    # the import task's own log line carries the request id of the import request
    task_lines = [r for r in records if r["logger"] == "glimpse.services.imports" and "failed" in r["message"]]
    assert [r["request_id"] for r in task_lines] == [imported.headers["x-openstack-request-id"]]


def test_text_logs_name_the_request_and_start_up_is_quiet_once_migrated(tmp_path: Path) -> None:
    first = start_server(tmp_path, log_level="info")
    first.stop()
    assert "Running upgrade" in first.log.read_text()  # the first start migrates, and says so
    again = start_server(tmp_path, log_level="info")
    try:
        response = httpx.get(f"{again.url}/v2/images", headers={"X-Project-Id": "p-text"})
    finally:
        again.stop()
    text = again.log.read_text()
    assert "alembic" not in text
    request_id = response.headers["x-openstack-request-id"]
    [line] = [line for line in text.splitlines() if request_id in line]
    assert f'glimpse.access: [{request_id}] 127.0.0.1 "GET /v2/images HTTP/1.1" 200 route=/v2/images ' in line
    assert "project=p-text" in line
