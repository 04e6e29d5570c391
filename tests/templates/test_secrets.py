"""Secrets given to render a template reach only the response: not the database, the log or notifications."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.conftest import Api, start_server
from tests.templates.conftest import active_image, publish


def render(api: Api, template_id: str, parameters: dict[str, str]) -> dict[str, str]:
    response = api.http.post(f"/v2/templates/{template_id}/render", json={"parameters": parameters})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def test_secrets_are_never_stored_logged_or_notified(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", log_level="debug", env={
        "GLIMPSE_EXTENSIONS": '["templates", "notifications"]', "GLIMPSE_OUTBOX_POLL_INTERVAL": "0.1"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = active_image(api)
        user_data = "#cloud-config\nchpasswd:\n  expire: false\n  users:\n    - {name: root, password: {{ pw }}}\n"
        created = publish(api, image["id"], parameters={"pw": {"type": "string", "secret": True, "required": True}},
                          user_data=user_data)
        secret = f"pw-{uuid.uuid4().hex}"
        body = render(api, created["id"], {"pw": secret})
        assert secret in body["cloud_config"]
        assert secret not in api.http.get(f"/v2/templates/{created['id']}").text
        patch = api.http.patch(f"/v2/templates/{created['id']}", content=json.dumps(
            [{"op": "replace", "path": "/deprecated", "value": True}]),
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
        assert patch.status_code == 200
        assert api.http.delete(f"/v2/templates/{created['id']}").status_code == 204
    finally:
        server.stop()
    log = server.log.read_text()
    assert "template.create" in log and "template.update" in log and "template.delete" in log
    assert secret not in log
    for database in tmp_path.rglob("*.db"):
        assert secret.encode() not in database.read_bytes()
