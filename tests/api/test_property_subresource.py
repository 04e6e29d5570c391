"""``/v2/images/{id}/properties[/{name}]``: one property at a time, private properties, If-Match."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Api, Server


@pytest.fixture(autouse=True)
def _loaded(catalog: Path) -> None:
    """The catalog gives some properties a type."""


@pytest.fixture
def stranger(server: Server) -> Iterator[Api]:
    """Another project, which sees the test's community images."""
    client = Api(server.url, uuid.uuid4().hex)
    yield client
    client.close()


def put(api: Api, image_id: str, name: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return api.http.put(f"/v2/images/{image_id}/properties/{name}", json=body, headers=headers)


def test_a_property_record_has_value_type_setter_and_visibility(api: Api) -> None:
    image = api.create(hw_cpu_cores="4", color="blue")
    listing = api.http.get(f"/v2/images/{image['id']}/properties")
    assert listing.status_code == 200 and listing.headers["etag"] == '"r1"'
    records = {r["name"]: r for r in listing.json()["properties"]}
    assert records["hw_cpu_cores"] == {
        "name": "hw_cpu_cores", "value": 4, "type": "integer", "namespace": "Glimpse::Test::VirtCPUTopology",
        "project_id": api.project, "visibility": "public",
        "self": f"/v2/images/{image['id']}/properties/hw_cpu_cores", "image": f"/v2/images/{image['id']}"}
    assert records["color"]["type"] == "string" and records["color"]["namespace"] is None
    one = api.http.get(f"/v2/images/{image['id']}/properties/hw_cpu_cores")
    assert one.status_code == 200 and one.json() == records["hw_cpu_cores"]
    assert one.headers["etag"].startswith('"p')


def test_put_creates_then_replaces_and_checks_the_definition(api: Api) -> None:
    image = api.create()
    created = put(api, image["id"], "hw_cpu_sockets", {"value": "3"})
    assert created.status_code == 201 and created.json()["value"] == 3
    replaced = put(api, image["id"], "hw_cpu_sockets", {"value": 4})
    assert replaced.status_code == 200 and replaced.json()["value"] == 4
    refused = put(api, image["id"], "hw_cpu_sockets", {"value": 99})
    assert refused.status_code == 400
    assert (refused.json()["property"], refused.json()["rule"], refused.json()["value"]) == ("hw_cpu_sockets",
                                                                                           "maximum", 99)
    assert api.show(image["id"])["hw_cpu_sockets"] == "4"
    assert put(api, image["id"], "os_glance_x", {"value": "x"}).status_code == 403
    assert put(api, image["id"], "name", {"value": "x"}).status_code == 403
    assert put(api, image["id"], "x", {"value": "x", "color": 1}).status_code == 400
    assert put(api, image["id"], "x", {"visibility": "private"}).status_code == 400


def test_delete_removes_one_property(api: Api) -> None:
    image = api.create(color="red", size_label="L")
    assert api.http.delete(f"/v2/images/{image['id']}/properties/color").status_code == 204
    shown = api.show(image["id"])
    assert "color" not in shown and shown["size_label"] == "L"
    assert api.http.delete(f"/v2/images/{image['id']}/properties/color").status_code == 404
    assert api.http.get(f"/v2/images/{image['id']}/properties/color").status_code == 404


def test_private_properties_never_reach_other_projects(api: Api, stranger: Api, admin: Api) -> None:
    marker = uuid.uuid4().hex
    image = api.create(visibility="community", color="green")
    assert put(api, image["id"], "licence_key", {"value": marker, "visibility": "private"}).status_code == 201
    image_id = image["id"]

    # the owner sees it everywhere
    assert api.show(image_id)["licence_key"] == marker
    assert api.http.get(f"/v2/images/{image_id}/properties/licence_key").json()["visibility"] == "private"
    owner_list = api.http.get("/v2/images", params={"licence_key": marker, "visibility": "community"}).json()
    assert [i["id"] for i in owner_list["images"]] == [image_id]
    assert admin.show(image_id)["licence_key"] == marker

    # another project sees the image, never the property: body, list, filters, subresource
    shown = stranger.show(image_id)
    assert shown["color"] == "green" and "licence_key" not in shown and marker not in str(shown)
    listed = stranger.http.get("/v2/images", params={"visibility": "community", "color": "green"}).json()
    assert image_id in {i["id"] for i in listed["images"]} and marker not in str(listed)
    by_value = stranger.http.get("/v2/images", params={"licence_key": marker, "visibility": "community"}).json()
    assert by_value["images"] == []
    records = stranger.http.get(f"/v2/images/{image_id}/properties").json()["properties"]
    assert [r["name"] for r in records] == ["color"]
    assert stranger.http.get(f"/v2/images/{image_id}/properties/licence_key").status_code == 404
    assert marker not in stranger.http.get("/v2/schemas/image").text


def test_only_the_owner_makes_a_property_private_and_others_cannot_touch_it(
        api: Api, stranger: Api, admin: Api) -> None:
    image = api.create(visibility="community")
    assert put(stranger, image["id"], "x", {"value": "1"}).status_code == 403  # not its image
    assert put(api, image["id"], "x", {"value": "1", "visibility": "secret"}).status_code == 400
    assert put(api, image["id"], "x", {"value": "1", "visibility": "private"}).status_code == 201
    public_again = put(api, image["id"], "x", {"value": "1", "visibility": "public"})
    assert public_again.status_code == 200 and public_again.json()["visibility"] == "public"
    assert stranger.show(image["id"])["x"] == "1"
    # an admin may make it private too, and the setter is recorded
    by_admin = put(admin, image["id"], "x", {"value": "2", "visibility": "private"})
    assert by_admin.status_code == 200 and by_admin.json()["project_id"] is None
    assert "x" not in stranger.show(image["id"])


def test_a_patch_keeps_private_properties_and_their_visibility(api: Api) -> None:
    image = api.create()
    put(api, image["id"], "note", {"value": "a", "visibility": "private"})
    response = api.patch(image["id"], [{"op": "replace", "path": "/note", "value": "b"}])
    assert response.status_code == 200 and response.json()["note"] == "b"
    record = api.http.get(f"/v2/images/{image['id']}/properties/note").json()
    assert (record["value"], record["visibility"]) == ("b", "private")


def test_if_match_with_the_property_or_image_etag_guards_against_lost_updates(api: Api) -> None:
    image = api.create(hw_cpu_cores="1")
    path = f"/v2/images/{image['id']}/properties/hw_cpu_cores"
    etag = api.http.get(path).headers["etag"]
    image_etag = api.http.get(f"/v2/images/{image['id']}/properties").headers["etag"]
    first = put(api, image["id"], "hw_cpu_cores", {"value": 2}, **{"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    lost = put(api, image["id"], "hw_cpu_cores", {"value": 3}, **{"If-Match": etag})
    assert lost.status_code == 412
    assert put(api, image["id"], "hw_cpu_cores", {"value": 3}, **{"If-Match": image_etag}).status_code == 412
    fresh_image = api.http.get(f"/v2/images/{image['id']}/properties").headers["etag"]
    assert put(api, image["id"], "hw_cpu_cores", {"value": 3}, **{"If-Match": fresh_image}).status_code == 200
    assert api.http.delete(path, headers={"If-Match": etag}).status_code == 412
    assert api.http.delete(path, headers={"If-Match": api.http.get(path).headers["etag"]}).status_code == 204
    assert api.show(image["id"]).get("hw_cpu_cores") is None


def test_star_preconditions_create_only_or_replace_only(api: Api) -> None:
    image = api.create()
    assert put(api, image["id"], "k", {"value": "1"}, **{"If-Match": "*"}).status_code == 412
    assert put(api, image["id"], "k", {"value": "1"}, **{"If-None-Match": "*"}).status_code == 201
    assert put(api, image["id"], "k", {"value": "2"}, **{"If-None-Match": "*"}).status_code == 412
    assert put(api, image["id"], "k", {"value": "2"}, **{"If-Match": "*"}).status_code == 200


def test_concurrent_read_modify_write_with_if_match_loses_no_update(api: Api, server: Server) -> None:
    image = api.create(counter="0")
    path = f"/v2/images/{image['id']}/properties/counter"
    writers, increments = 8, 5
    conflicts = []
    failures: list[str] = []
    # Every writer reads before any writes in the first round, so they certainly collide.
    first_round = threading.Barrier(writers)

    def writer() -> None:
        client = httpx.Client(base_url=server.url, headers={"X-Project-Id": api.project or ""}, timeout=60)
        waited = False
        try:
            for _ in range(increments):
                while True:
                    current = client.get(path)
                    value = int(current.json()["value"])
                    if not waited:
                        first_round.wait(timeout=60)
                        waited = True
                    response = client.put(path, json={"value": str(value + 1)},
                                          headers={"If-Match": current.headers["etag"]})
                    if response.status_code == 412:
                        conflicts.append(1)
                        continue
                    if response.status_code != 200:
                        failures.append(response.text)
                    break
        finally:
            client.close()

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert api.show(image["id"])["counter"] == str(writers * increments)
    assert len(conflicts) >= writers - 1  # they raced: without If-Match these increments would be lost
