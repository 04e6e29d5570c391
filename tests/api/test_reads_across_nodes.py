"""Reads never serve a state older than the last change, whichever process or node made it.

Each process caches what it read per image version; these tests change images
through one node and read them through another that shares its database (and
has cached the image before the change).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, Server, start_server


@pytest.fixture(scope="module")
def other_node(server: Server, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    node = start_server(tmp_path_factory.mktemp("other-node"), database_url=database_url, workers=1)
    yield node
    node.stop()


@pytest.fixture
def apis(server: Server, other_node: Server) -> Iterator[tuple[Api, Api]]:
    project = uuid.uuid4().hex
    writer, reader = Api(server.url, project), Api(other_node.url, project)
    yield writer, reader
    writer.close()
    reader.close()


def test_a_change_on_one_node_is_seen_by_the_next_show_on_another(apis: tuple[Api, Api]) -> None:
    writer, reader = apis
    image = writer.create(name="before", tags=["a"])
    first = reader.http.get(f"/v2/images/{image['id']}")
    assert first.json()["name"] == "before"
    for round_ in range(3):
        assert writer.patch(image["id"], [{"op": "replace", "path": "/name", "value": f"after-{round_}"},
                                          {"op": "add", "path": f"/extra_{round_}", "value": "x"}]).status_code == 200
        shown = reader.http.get(f"/v2/images/{image['id']}")
        assert shown.json()["name"] == f"after-{round_}" and shown.json()[f"extra_{round_}"] == "x"
        assert shown.headers["etag"] != first.headers["etag"]
        assert reader.http.get(f"/v2/images/{image['id']}",
                               headers={"If-None-Match": first.headers["etag"]}).status_code == 200
        first = shown


def test_a_change_on_one_node_is_seen_by_the_next_list_on_another(apis: tuple[Api, Api]) -> None:
    writer, reader = apis
    tag = uuid.uuid4().hex
    ids = [writer.create(name=f"n{i}", tags=[tag])["id"] for i in range(3)]
    listed = reader.http.get("/v2/images", params={"tag": tag}).json()["images"]
    assert sorted(i["id"] for i in listed) == sorted(ids)
    assert writer.patch(ids[0], [{"op": "replace", "path": "/name", "value": "renamed"}]).status_code == 200
    assert writer.http.delete(f"/v2/images/{ids[1]}/tags/{tag}").status_code == 204
    listed = reader.http.get("/v2/images", params={"tag": tag}).json()["images"]
    assert {i["id"]: i["name"] for i in listed} == {ids[0]: "renamed", ids[2]: "n2"}


def test_a_deletion_on_one_node_is_seen_by_the_next_show_on_another(apis: tuple[Api, Api]) -> None:
    writer, reader = apis
    image = writer.create(name="doomed")
    assert reader.http.get(f"/v2/images/{image['id']}").status_code == 200
    assert writer.http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert reader.http.get(f"/v2/images/{image['id']}").status_code == 404


def test_visibility_changes_apply_to_the_next_read_on_another_node(apis: tuple[Api, Api], other_node: Server) -> None:
    writer, _ = apis
    stranger = Api(other_node.url, uuid.uuid4().hex)
    image = writer.create(name="private", visibility="private", secret_thing="s")
    assert stranger.http.get(f"/v2/images/{image['id']}").status_code == 404
    assert writer.patch(image["id"], [{"op": "replace", "path": "/visibility", "value": "community"}]).status_code == 200
    assert stranger.http.get(f"/v2/images/{image['id']}").status_code == 200
    assert writer.patch(image["id"], [{"op": "replace", "path": "/visibility", "value": "private"}]).status_code == 200
    assert stranger.http.get(f"/v2/images/{image['id']}").status_code == 404
    stranger.close()


def test_nodes_share_the_database_file(server: Server, other_node: Server) -> None:
    assert Path(server.data_dir) != Path(other_node.data_dir)


def test_the_writing_node_shows_what_a_fresh_read_shows(apis: tuple[Api, Api]) -> None:
    # The writer keeps what it stored; the other node loads it from the database.
    writer, reader = apis
    image = writer.create(name="w", tags=["b", "a"], zeta="1", alpha="2")
    changed = writer.patch(image["id"], [{"op": "add", "path": "/tags", "value": ["z", "y"]},
                                         {"op": "add", "path": "/middle", "value": "3"},
                                         {"op": "remove", "path": "/zeta"},
                                         {"op": "replace", "path": "/min_ram", "value": 64}])
    assert changed.status_code == 200
    for _ in range(4):  # both workers of the writing node, and the other node
        mine, theirs = writer.http.get(f"/v2/images/{image['id']}"), reader.http.get(f"/v2/images/{image['id']}")
        assert mine.json() == theirs.json() == changed.json()
        assert mine.headers["etag"] == theirs.headers["etag"] == changed.headers["etag"]
