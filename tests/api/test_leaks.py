"""What a caller must not learn: protected property values through list filters; metadata changes
through the data's validators."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Api, Server, start_server

PROTECTIONS = """
[^x_secret_.*]
create = admin
read = admin
update = admin
delete = admin

[.*]
create = @
read = @
update = @
delete = @
"""


@pytest.fixture(scope="module")
def protected(database_url: str, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp(f"protected-{backend}")
    (root / "protections.conf").write_text(PROTECTIONS)
    server = start_server(root / "node", database_url=database_url,
                          env={"GLIMPSE_PROPERTY_PROTECTION_FILE": str(root / "protections.conf")})
    yield server
    server.stop()


def ids(api: Api, **params: str) -> list[str]:
    response = api.http.get("/v2/images", params=params)
    assert response.status_code == 200, response.text
    return [image["id"] for image in response.json()["images"]]


def test_filtering_on_a_property_the_caller_may_not_read_matches_nothing(protected: Server) -> None:
    project = uuid.uuid4().hex
    admin = Api(protected.url, project, roles="admin,member,reader")
    member = Api(protected.url, project, roles="member,reader")
    mark = uuid.uuid4().hex
    image = admin.create(name="billing", visibility="public", x_secret_code="42", mark=mark)
    assert "x_secret_code" not in member.show(image["id"])
    # The right guess and a wrong one look the same to the member: nothing.
    assert ids(member, mark=mark, x_secret_code="42") == []
    assert ids(member, mark=mark, x_secret_code="41") == []
    assert ids(member, mark=mark) == [image["id"]]
    # Whoever may read it can filter on it.
    assert ids(admin, mark=mark, x_secret_code="42") == [image["id"]]
    assert ids(admin, mark=mark, x_secret_code="41") == []


def test_the_data_last_modified_is_when_the_data_became_active(api: Api) -> None:
    image = api.create(name="before")
    assert api.upload(image["id"], b"immutable bytes").status_code == 204
    first = api.http.get(f"/v2/images/{image['id']}/file")
    assert first.status_code == 200
    stamp = first.headers["last-modified"]
    time.sleep(1.1)  # HTTP dates have whole seconds
    assert api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "after"}]).status_code == 200
    assert api.http.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    assert api.http.post(f"/v2/images/{image['id']}/actions/reactivate").status_code == 204
    again = api.http.get(f"/v2/images/{image['id']}/file")
    assert again.headers["last-modified"] == stamp
    cached = api.http.get(f"/v2/images/{image['id']}/file", headers={"If-Modified-Since": stamp})
    assert cached.status_code == 304
    ranged = api.http.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=0-8", "If-Range": stamp})
    assert ranged.status_code == 206 and ranged.content == b"immutable"
