"""Fixtures for server templates: active images to build templates on, and a small template document."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api

EXAMPLES = Path(__file__).parents[2] / "examples" / "templates"

USER_DATA = """#cloud-config
hostname: {{ host }}
write_files:
  - path: /etc/motd
    content: {{ motd }}
runcmd:
{%- for port in ports %}
  - [echo, {{ port }}]
{%- endfor %}
"""

PARAMETERS: dict[str, Any] = {
    "host": {"type": "string", "format": "hostname", "title": "Host name", "required": True},
    "motd": {"type": "string", "default": "welcome", "maxLength": 200},
    "ports": {"type": "array", "items": {"type": "integer", "format": "port"}, "default": [22]},
    "password": {"type": "string", "secret": True, "minLength": 8},
}


def active_image(api: Api, **fields: Any) -> dict[str, Any]:
    image = api.create(name=fields.pop("name", f"img-{uuid.uuid4().hex[:8]}"), **fields)
    response = api.upload(image["id"], b"\0" * 1024)
    assert response.status_code == 204, response.text
    return api.show(image["id"])


def template_body(image_id: str, **fields: Any) -> dict[str, Any]:
    return {"name": fields.pop("name", f"tpl-{uuid.uuid4().hex[:8]}"), "version": "1.0.0", "image_id": image_id,
            "parameters": PARAMETERS, "user_data": USER_DATA, **fields}


def publish(api: Api, image_id: str, **fields: Any) -> dict[str, Any]:
    response = api.http.post("/v2/templates", json=template_body(image_id, **fields))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def image(api: Api) -> dict[str, Any]:
    return active_image(api)
