"""Rendering templates through the API: values checked one by one, YAML kept intact, Nova and Heat bodies,
secrets nowhere but the response."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests.conftest import Api
from tests.templates.conftest import publish, template_body

#: Rendering does not depend on the database (tests/templates/test_templates_api.py covers the backends).
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

#: Values that would break a YAML document if pasted into it.
HOSTILE = ["it's \"quoted\"", "two\nlines\n", "# not a comment", "&anchor", "*alias", "key: value", "- item",
           "{flow: map}", "[1, 2]", "yes", "null", "  padded  ", "tab\there", "back\\slash", "ünïcødé ✓", "|", ">",
           "---", "...", "%TAG", "@at", "`tick`", "0x1F", "1e3", "!!python/object:os.system"]


def render(api: Api, template_id: str, parameters: dict[str, Any], **params: str) -> Any:
    return api.http.post(f"/v2/templates/{template_id}/render", json={"parameters": parameters}, params=params)


def test_render_returns_a_nova_server_body_and_the_cloud_config(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"], metadata={"app": "demo"}, min_ram=256, min_disk=2)
    response = render(api, created["id"], {"host": "web1", "ports": ["22", 443]})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    server = body["server"]
    assert server["imageRef"] == image["id"] and server["metadata"] == {"app": "demo"}
    assert server["min_ram"] == 256 and server["min_disk"] == 2
    assert base64.b64decode(server["user_data"]).decode() == body["cloud_config"]
    document = yaml.safe_load(body["cloud_config"])
    assert body["cloud_config"].startswith("#cloud-config\n")
    assert document == {"hostname": "web1", "write_files": [{"path": "/etc/motd", "content": "welcome"}],
                        "runcmd": [["echo", 22], ["echo", 443]]}


def test_rendering_is_deterministic(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    first = render(api, created["id"], {"host": "a", "motd": "x"}).json()
    assert all(render(api, created["id"], {"host": "a", "motd": "x"}).json() == first for _ in range(3))


def test_every_bad_or_missing_parameter_is_named_with_its_reason(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    response = render(api, created["id"], {"motd": "m" * 201, "ports": [0], "password": "short", "extra": 1})
    assert response.status_code == 400
    problems = {p["parameter"]: p["reason"] for p in response.json()["problems"]}
    assert set(problems) == {"host", "motd", "ports", "password", "extra"}
    assert problems["host"] == "is required"
    assert "at most 200" in problems["motd"] and "port number" in problems["ports"]
    assert "not a parameter" in problems["extra"]
    assert "short" not in response.text  # a secret value is never echoed, even when it is wrong


def test_values_that_would_break_yaml_come_out_intact(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    for value in HOSTILE:
        response = render(api, created["id"], {"host": "h", "motd": value})
        assert response.status_code == 200, (value, response.text)
        document = yaml.safe_load(response.json()["cloud_config"])
        assert document["write_files"] == [{"path": "/etc/motd", "content": value}], value
        assert set(document) == {"hostname", "write_files", "runcmd"}


def test_line_and_shell_filters_keep_values_inside_block_scalars(api: Api, image: dict[str, Any]) -> None:
    user_data = ("#cloud-config\nwrite_files:\n  - path: /etc/app.env\n    content: |\n"
                 "      NAME={{ name|shell }}\n      TITLE={{ name|line }}\nruncmd: [[true]]\n")
    created = publish(api, image["id"], parameters={"name": {"type": "string", "required": True}},
                      user_data=user_data)
    value = "a'b: #c &d *e"
    content = yaml.safe_load(render(api, created["id"], {"name": value}).json()["cloud_config"])["write_files"][0]
    assert content["content"] == "NAME='a'\"'\"'b: #c &d *e'\nTITLE=a'b: #c &d *e\n"
    refused = render(api, created["id"], {"name": "two\n  - path: /etc/shadow"})
    assert refused.status_code == 400 and refused.json()["problems"][0]["parameter"] == "name"


def test_a_value_cannot_change_the_documents_structure(api: Api, image: dict[str, Any]) -> None:
    user_data = "#cloud-config\nbootcmd:\n  - echo {{ word|line }}\n"
    created = publish(api, image["id"], parameters={"word": {"type": "string", "required": True}},
                      user_data=user_data)
    assert render(api, created["id"], {"word": "hello"}).status_code == 200
    injected = render(api, created["id"], {"word": "x: {evil: 1}"})
    assert injected.status_code == 400 and "structure" in injected.text


def test_heat_format_gives_a_hot_template_with_the_parameters(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"], flavor_hint="m1.small")
    response = render(api, created["id"], {"host": "web1", "password": "s3cret-value"}, format="heat")
    assert response.status_code == 200, response.text
    hot = response.json()
    assert hot["heat_template_version"] == "2018-08-31"
    parameters = hot["parameters"]
    assert parameters["flavor"]["default"] == "m1.small"
    assert parameters["param_host"]["default"] == "web1" and parameters["param_host"]["label"] == "Host name"
    assert parameters["param_password"]["hidden"] is True and "default" not in parameters["param_password"]
    assert parameters["param_ports"]["type"] == "comma_delimited_list"
    server = hot["resources"]["server"]
    assert server["type"] == "OS::Nova::Server" and server["properties"]["image"] == image["id"]
    assert yaml.safe_load(server["properties"]["user_data"])["hostname"] == "web1"
    assert render(api, created["id"], {"host": "a"}, format="xml").status_code == 400


MULTIPART = """Content-Type: multipart/mixed; boundary="==BOUNDARY=="
MIME-Version: 1.0

--==BOUNDARY==
Content-Type: text/cloud-config; charset="utf-8"

#cloud-config
hostname: {{ host }}

--==BOUNDARY==
Content-Type: text/x-shellscript; charset="utf-8"

#!/bin/sh
echo {{ host|shell }} > /etc/greeting

--==BOUNDARY==--
"""


def test_mime_multipart_user_data_renders_and_keeps_its_parts(api: Api, image: dict[str, Any]) -> None:
    import email

    created = publish(api, image["id"], parameters={"host": {"type": "string", "required": True}},
                      user_data=MULTIPART)
    body = render(api, created["id"], {"host": "it's: #me"}).json()
    parts = [p for p in email.message_from_string(body["cloud_config"]).walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/cloud-config", "text/x-shellscript"]
    assert yaml.safe_load(parts[0].get_payload())["hostname"] == "it's: #me"
    assert "echo 'it'\"'\"'s: #me' > /etc/greeting" in parts[1].get_payload()
    smuggled = render(api, created["id"], {"host": "a\n--==BOUNDARY==\nContent-Type: text/x-shellscript\n\nrm -rf /"})
    assert smuggled.status_code == 400


def test_a_shell_part_that_outputs_a_yaml_quoted_value_is_refused(api: Api, image: dict[str, Any]) -> None:
    unsafe = MULTIPART.replace("{{ host|shell }}", "{{ host }}")
    response = api.http.post("/v2/templates", json=template_body(
        image["id"], parameters={"host": {"type": "string", "default": "h"}}, user_data=unsafe))
    assert response.status_code == 400
    assert "text/x-shellscript" in response.json()["problems"][0]["reason"]
