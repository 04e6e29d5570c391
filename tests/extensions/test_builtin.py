"""The built-in extensions, enabled like any other; without a broker notifications go to the log."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from tests.conftest import Api, start_server


def _notifications(log: Path) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        if " glimpse.notifications: notification " in line:
            envelope = json.loads(line.split(" glimpse.notifications: notification ", 1)[1])
            found.append(json.loads(envelope["oslo.message"]))
    return found


def test_without_a_broker_notifications_are_logged_and_disabled_ones_left_out(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", args=["--log-level", "info"], env={
        "GLIMPSE_EXTENSIONS": '["notifications"]', "GLIMPSE_DISABLED_NOTIFICATIONS": '["image.update"]',
        "GLIMPSE_OUTBOX_POLL_INTERVAL": "0.1", "GLIMPSE_NOTIFICATION_PUBLISHER_ID": "image.test-node"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        listing = api.http.get("/v2/extensions").json()["extensions"]
        assert [(e["alias"], e["builtin"]) for e in listing] == [("notifications", True)]
        assert listing[0]["adds"] == {"routes": [], "hooks": ["change_committing", "register_background_tasks",
                                                              "template_change_committing"]}
        image = api.create(name="logged")
        api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "renamed"}])
        assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
        api.close()
        deadline = time.monotonic() + 30
        while len(_notifications(server.log)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    logged = _notifications(server.log)
    assert [(m["event_type"], m["publisher_id"]) for m in logged] == [
        ("image.create", "image.test-node"), ("image.delete", "image.test-node")]


def test_only_image_import_templates_and_console_are_loaded_unless_others_are_enabled(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node")
    try:
        listing = Api(server.url).http.get("/v2/extensions").json()["extensions"]
        assert sorted((e["alias"], e["builtin"]) for e in listing) == [
            ("console", True), ("image-import", True), ("templates", True)]
        templates = next(e for e in listing if e["alias"] == "templates")
        assert "/v2/templates" in templates["adds"]["routes"]
    finally:
        server.stop()


def test_the_templates_extension_can_be_switched_off(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env={"GLIMPSE_EXTENSIONS": "[]"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        assert api.http.get("/v2/extensions").json() == {"extensions": []}
        assert api.http.get("/v2/templates").status_code == 404
        assert api.http.get("/v2/schemas/template").status_code == 404
    finally:
        server.stop()


def test_import_status_changes_are_notified(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", args=["--log-level", "info"], env={
        "GLIMPSE_EXTENSIONS": '["image-import", "notifications"]', "GLIMPSE_OUTBOX_POLL_INTERVAL": "0.1"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create(name="imported")
        staged = api.http.put(f"/v2/images/{image['id']}/stage", content=b"staged",
                              headers={"Content-Type": "application/octet-stream"})
        assert staged.status_code == 204
        assert api.http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "glance-direct"}}).status_code == 202
        deadline = time.monotonic() + 30
        while not any(m["event_type"] == "image.activate" for m in _notifications(server.log)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.stop()
    events = [(m["event_type"], m["payload"]["status"]) for m in _notifications(server.log)  # type: ignore[index]
              if m["payload"]["id"] == image["id"]]  # type: ignore[index]
    assert events == [
        ("image.create", "queued"),
        ("image.update", "uploading"), ("image.prepare", "uploading"),  # staging starts
        ("image.upload", "uploading"), ("image.update", "uploading"),  # staged
        ("image.update", "importing"),  # the import task takes the image
        ("image.prepare", "importing"),  # the data goes to the store
        ("image.upload", "active"), ("image.activate", "active"), ("image.update", "active"),
    ]


def test_private_properties_stay_out_of_notifications(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", args=["--log-level", "info"], env={
        "GLIMPSE_EXTENSIONS": '["notifications"]', "GLIMPSE_OUTBOX_POLL_INTERVAL": "0.1"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create(name="secretive", public_note="hello")
        response = api.http.put(f"/v2/images/{image['id']}/properties/secret_note",
                                json={"value": "owner eyes only", "visibility": "private"})
        assert response.status_code == 201, response.text
        api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "still secretive"}])
        deadline = time.monotonic() + 30
        while sum(m["event_type"] == "image.update" for m in _notifications(server.log)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.stop()
    updates = [m["payload"] for m in _notifications(server.log) if m["event_type"] == "image.update"]
    assert [u["properties"] for u in updates] == [{"public_note": "hello"}] * 2  # type: ignore[index]
