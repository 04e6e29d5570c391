"""A node started with a policy file and a property protection file obeys them over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, Server, start_server

PROTECTIONS = """
[^x_billing_.*]
create = admin
read = admin,member
update = admin
delete = !

[^x_owner_.*]
create = member
read = member
update = member
delete = member

[.*]
create = @
read = @
update = @
delete = @
"""

POLICY = """
"publicize_image": "role:member and project_id:%(project_id)s"
"get_images": "role:lister or rule:context_is_admin"
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("guarded")
    (root / "protections.conf").write_text(PROTECTIONS)
    (root / "policy.yaml").write_text(POLICY)
    server = start_server(root / "node", env={"GLIMPSE_PROPERTY_PROTECTION_FILE": str(root / "protections.conf"),
                                               "GLIMPSE_POLICY_FILE": str(root / "policy.yaml")})
    yield server
    server.stop()


def test_policy_file_overrides_default_rules(guarded: Server) -> None:
    member = Api(guarded.url, uuid.uuid4().hex)
    assert member.create(visibility="public")["visibility"] == "public"
    assert member.http.get("/v2/images").status_code == 403
    lister = Api(guarded.url, member.project, roles="member,lister")
    assert lister.http.get("/v2/images").status_code == 200


def test_protected_properties_by_role(guarded: Server) -> None:
    project = uuid.uuid4().hex
    member = Api(guarded.url, project)
    reader = Api(guarded.url, project, roles="reader")
    admin = Api(guarded.url, project, roles="admin,member,reader")

    response = member.http.post("/v2/images", json={"x_billing_code": "42"})
    assert response.status_code == 403 and "x_billing_code" in response.json()["message"]
    image = admin.create(x_billing_code="42", x_owner_note="hi", free="yes")
    assert image["x_billing_code"] == "42"

    as_member = member.show(image["id"])
    assert as_member["x_billing_code"] == "42" and as_member["x_owner_note"] == "hi"
    as_reader = reader.show(image["id"])
    assert "x_billing_code" not in as_reader and "x_owner_note" not in as_reader and as_reader["free"] == "yes"
    listed = admin.http.get("/v2/images", params={"free": "yes", "owner": project}).json()["images"]
    assert [(i["x_billing_code"], i["x_owner_note"]) for i in listed] == [("42", "hi")]
    only_admin = Api(guarded.url, project, roles="admin")
    assert "x_owner_note" not in only_admin.show(image["id"])

    response = member.patch(image["id"], [{"op": "replace", "path": "/x_billing_code", "value": "7"}])
    assert response.status_code == 403
    response = admin.patch(image["id"], [{"op": "remove", "path": "/x_billing_code"}])
    assert response.status_code == 403
    assert admin.patch(image["id"], [{"op": "replace", "path": "/x_billing_code", "value": "7"}]).status_code == 200
    assert member.patch(image["id"], [{"op": "add", "path": "/x_owner_new", "value": "1"}]).status_code == 200


def test_unreadable_properties_survive_other_changes(guarded: Server) -> None:
    project = uuid.uuid4().hex
    admin = Api(guarded.url, project, roles="admin,member,reader")
    writer = Api(guarded.url, project, roles="member,reader")
    image = admin.create(x_billing_code="42")
    hidden_from = Api(guarded.url, project, roles="reader")
    assert "x_billing_code" not in hidden_from.show(image["id"])
    assert writer.patch(image["id"], [{"op": "replace", "path": "/name", "value": "renamed"}]).status_code == 200
    assert admin.show(image["id"])["x_billing_code"] == "42"
