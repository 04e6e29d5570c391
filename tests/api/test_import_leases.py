"""No image stays ``importing`` or ``uploading`` for ever: dead importing nodes and expired stages are swept."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from tests.conftest import Api, start_server
from tests.support.web import serve_files

FAST_SWEEP = {"GLIMPSE_UPLOAD_LEASE_SECONDS": "1", "GLIMPSE_IMPORT_LEASE_SECONDS": "2",
              "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]", "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'}


def wait_status(api: Api, image_id: str, status: str, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while (image := api.show(image_id))["status"] != status:
        assert time.monotonic() < deadline, image
        time.sleep(0.1)
    return image


def test_when_the_importing_node_is_killed_another_node_fails_the_task(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    doomed = start_server(tmp_path / "doomed", database_url=database_url, env=FAST_SWEEP)
    survivor = None
    try:
        project = uuid.uuid4().hex
        on_doomed = Api(doomed.url, project)
        image = on_doomed.create(disk_format="raw", container_format="bare")
        with serve_files() as base:
            started = on_doomed.http.post(f"/v2/images/{image['id']}/import", json={
                "method": {"name": "web-download", "uri": f"{base}/slow"}})
            assert started.status_code == 202, started.text
            wait_status(on_doomed, image["id"], "importing")
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait(10)
            survivor = start_server(tmp_path / "survivor", database_url=database_url, env=FAST_SWEEP)
            on_survivor = Api(survivor.url, project)
            queued = wait_status(on_survivor, image["id"], "queued")
        assert "os_glance_import_task" not in queued
        task = on_survivor.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]
        assert task["status"] == "failure" and "went away" in task["message"]
    finally:
        doomed.stop()
        if survivor is not None:
            survivor.stop()


def test_staged_data_that_is_never_imported_expires(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env={**FAST_SWEEP, "GLIMPSE_STAGING_TIME_TO_LIVE": "1"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create(disk_format="raw", container_format="bare")
        assert api.http.put(f"/v2/images/{image['id']}/stage", content=b"forgotten",
                            headers={"Content-Type": "application/octet-stream"}).status_code == 204
        assert (server.data_dir / "staging" / image["id"]).exists()
        queued = wait_status(api, image["id"], "queued")
        assert queued["size"] is None
        assert not (server.data_dir / "staging" / image["id"]).exists()
        refused = api.http.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "glance-direct"}})
        assert refused.status_code == 409 and "uploading" in refused.json()["message"]
    finally:
        server.stop()


def test_an_import_waiting_for_a_free_thread_keeps_its_lease(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env={**FAST_SWEEP, "GLIMPSE_IMPORT_THREADS": "1"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        with serve_files() as base:
            first, second = (api.create(disk_format="raw", container_format="bare") for _ in range(2))
            for image in (first, second):
                assert api.http.post(f"/v2/images/{image['id']}/import", json={
                    "method": {"name": "web-download", "uri": f"{base}/slow"}}).status_code == 202
            time.sleep(5)  # more than twice import_lease_seconds
            waiting = api.http.get(f"/v2/images/{second['id']}/tasks").json()["tasks"][0]
            assert waiting["status"] == "pending", waiting
            assert api.show(second["id"])["status"] == "importing"
            running = api.http.get(f"/v2/images/{first['id']}/tasks").json()["tasks"][0]
            assert running["status"] == "processing", running
    finally:
        server.stop()
