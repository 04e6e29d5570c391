"""Server templates through the client library and the ``glimpse template`` commands."""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from glimpseclient import BadRequest, Client, Conflict, NotFound, Template
from tests.client.test_cli import GLIMPSE, as_json, ok, run
from tests.conftest import Server

USER_DATA = "#cloud-config\nhostname: {{ host }}\nchpasswd:\n  users:\n    - {name: root, password: {{ pw }}}\n"
PARAMETERS: dict[str, Any] = {
    "host": {"type": "string", "format": "hostname", "title": "Host name", "required": True},
    "pw": {"type": "string", "secret": True, "title": "Root password", "required": True},
    "size": {"type": "integer", "minimum": 1, "default": 2},
}


@pytest.fixture
def image_id(client: Client) -> str:
    image = client.images.create(name="base", disk_format="raw", container_format="bare")
    client.images.upload(image.id, b"\0" * 512)
    return image.id


@pytest.fixture
def template(client: Client, image_id: str) -> Template:
    return client.templates.create(name="demo", version="1.0.0", image_id=image_id, user_data=USER_DATA,
                                   parameters=PARAMETERS)


def test_the_library_publishes_lists_renders_and_deletes(client: Client, template: Template, image_id: str) -> None:
    assert isinstance(template, Template) and template.version == "1.0.0"
    assert template.required_parameters() == ["host", "pw"]
    assert client.templates.get(template.id) == template
    assert [t.id for t in client.templates.list(name="demo")] == [template.id]
    schema = client.templates.parameters_schema(template.id)
    assert schema["required"] == ["host", "pw"] and schema["properties"]["pw"]["writeOnly"] is True
    launch = client.templates.render(template.id, {"host": "web", "pw": "hunter2-long"})
    assert launch["server"]["imageRef"] == image_id
    assert yaml.safe_load(base64.b64decode(launch["server"]["user_data"]))["hostname"] == "web"
    heat = client.templates.render(template.id, {"host": "web", "pw": "hunter2-long"}, heat=True)
    assert heat["resources"]["server"]["type"] == "OS::Nova::Server"
    client.templates.delete(template.id)
    with pytest.raises(NotFound):
        client.templates.get(template.id)


def test_the_library_reports_each_bad_parameter(client: Client, template: Template) -> None:
    with pytest.raises(BadRequest) as caught:
        client.templates.render(template.id, {"host": "not a host", "size": 0})
    message = caught.value.message
    assert "host:" in message and "pw: is required" in message and "size:" in message


def test_the_library_publishes_a_new_version_for_changed_content(client: Client, template: Template) -> None:
    with pytest.raises(Conflict):
        client.templates.update(template.id, [{"op": "replace", "path": "/description", "value": "new"}])
    newer = client.templates.update(template.id, [{"op": "replace", "path": "/description", "value": "new"},
                                                  {"op": "replace", "path": "/version", "value": "1.1.0"}])
    assert newer.id != template.id and newer.description == "new"
    assert [t.version for t in client.templates.list(name="demo")] == ["1.1.0"]
    assert sorted(t.version for t in client.templates.list(name="demo", all_versions=True)) == ["1.0.0", "1.1.0"]


def test_the_library_shares_a_template(client: Client, glimpse: Server, image_id: str) -> None:
    client.images.update(image_id, set={"visibility": "shared"})
    shared = client.templates.create(name="team", version="1.0.0", image_id=image_id, user_data=USER_DATA,
                                     parameters=PARAMETERS, visibility="shared")
    with Client(glimpse.url, project_id="guest-project") as guest:
        client.templates.add_member(shared.id, "guest-project")
        assert guest.templates.update_member(shared.id, "guest-project", "accepted").status == "accepted"
        assert shared.id in [t.id for t in guest.templates.list()]
        assert [m.member_id for m in client.templates.members(shared.id)] == ["guest-project"]
        client.templates.delete_member(shared.id, "guest-project")
        with pytest.raises(NotFound):
            guest.templates.get(shared.id)


def test_the_cli_creates_lists_shows_updates_and_deletes(glimpse: Server, project: str, client: Client,
                                                         image_id: str, tmp_path: Path) -> None:
    (tmp_path / "user-data").write_text(USER_DATA)
    (tmp_path / "parameters.json").write_text(json.dumps(PARAMETERS))
    created = as_json(run(glimpse.url, project, "template", "create", "--name", "cli", "--version", "0.1.0",
                          "--image", image_id, "--user-data-file", str(tmp_path / "user-data"),
                          "--parameters-file", str(tmp_path / "parameters.json"), "-f", "json"))
    assert isinstance(created, dict) and created["name"] == "cli"
    listing = ok(run(glimpse.url, project, "template", "list"))
    assert created["id"] in listing and "0.1.0" in listing
    assert as_json(run(glimpse.url, project, "template", "show", created["id"], "-f", "json")) == created
    table = ok(run(glimpse.url, project, "template", "parameters", created["id"]))
    assert "host" in table and "(secret)" in table
    updated = as_json(run(glimpse.url, project, "template", "update", created["id"], "--deprecated", "-f", "json"))
    assert isinstance(updated, dict) and updated["deprecated"] is True
    newer = as_json(run(glimpse.url, project, "template", "update", created["id"], "--description", "v2",
                        "--new-version", "0.2.0", "-f", "json"))
    assert isinstance(newer, dict) and newer["version"] == "0.2.0"
    ok(run(glimpse.url, project, "template", "delete", created["id"]))
    gone = run(glimpse.url, project, "template", "show", created["id"])
    assert gone.returncode == 1 and b"No template found" in gone.stderr


def test_the_cli_renders_with_params_and_a_param_file(glimpse: Server, project: str, client: Client,
                                                      template: Template, tmp_path: Path) -> None:
    (tmp_path / "values.json").write_text(json.dumps({"host": "from-file", "pw": "from-file-secret"}))
    body = as_json(run(glimpse.url, project, "template", "render", template.id, "--param-file",
                       str(tmp_path / "values.json"), "--param", "host=from-option"))
    assert isinstance(body, dict) and set(body) == {"server"}
    assert yaml.safe_load(base64.b64decode(body["server"]["user_data"]))["hostname"] == "from-option"
    text = ok(run(glimpse.url, project, "template", "render", template.id, "--param", "host=h",
                  "--param", "pw=another-secret", "--user-data-only"))
    assert text.startswith("#cloud-config") and yaml.safe_load(text)["hostname"] == "h"
    refused = run(glimpse.url, project, "template", "render", template.id, "--param", "host=h")
    assert refused.returncode == 1 and b"pw: is required" in refused.stderr


def test_the_cli_prompts_for_missing_parameters_hiding_secrets(glimpse: Server, project: str,
                                                               template: Template) -> None:
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environment.update(OS_PROJECT_ID=project, OS_IMAGE_URL=glimpse.url)
    process = subprocess.Popen([GLIMPSE, "template", "render", template.id, "--user-data-only"], stdin=terminal,
                               stdout=subprocess.PIPE, stderr=terminal, env=environment, start_new_session=True)
    os.close(terminal)
    seen = _until(controller, b"(host, string): ")
    os.write(controller, b"prompted-host\n")
    seen += _until(controller, b"(pw, string): ")
    os.write(controller, b"typed-secret-value\n")
    output, _ = process.communicate(timeout=60)
    seen += _drain(controller)
    os.close(controller)
    assert process.returncode == 0
    document = yaml.safe_load(output)
    assert document["hostname"] == "prompted-host"
    assert document["chpasswd"]["users"][0]["password"] == "typed-secret-value"
    assert b"prompted-host" in seen and b"typed-secret-value" not in seen  # echoed, and hidden


def _until(fd: int, marker: bytes, timeout: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no prompt {marker!r}; saw {seen!r}"
        if select.select([fd], [], [], remaining)[0]:
            seen += os.read(fd, 4096)
    return seen


def _drain(fd: int) -> bytes:
    seen = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            block = os.read(fd, 4096)
        except OSError:
            break
        if not block:
            break
        seen += block
    return seen
