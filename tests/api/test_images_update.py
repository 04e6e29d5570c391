"""PATCH /v2/images/{id} with both OpenStack JSON Patch media types."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import Api

V20 = "application/openstack-images-v2.0-json-patch"


def test_replace_add_remove_in_one_patch(api: Api) -> None:
    image = api.create(name="old", os_distro="ubuntu", os_version="22.04")
    response = api.patch(image["id"], [
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "replace", "path": "/tags", "value": ["x", "y", "x"]},
        {"op": "add", "path": "/os_distro", "value": "debian"},
        {"op": "add", "path": "/color", "value": "blue"},
        {"op": "remove", "path": "/os_version"},
        {"op": "replace", "path": "/min_ram", "value": 1024},
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "replace", "path": "/os_hidden", "value": True},
        {"op": "replace", "path": "/visibility", "value": "private"},
    ])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "new"
    assert sorted(body["tags"]) == ["x", "y"]
    assert body["os_distro"] == "debian" and body["color"] == "blue"
    assert "os_version" not in body
    assert body["min_ram"] == 1024 and body["protected"] is True and body["os_hidden"] is True
    assert body["visibility"] == "private"
    assert api.show(image["id"]) == body


def test_v20_media_type(api: Api) -> None:
    image = api.create(name="old", existing="1")
    response = api.patch(image["id"], [{"replace": "/name", "value": "v20"}, {"add": "/fresh", "value": "2"},
                                       {"remove": "/existing"}], media_type=V20)
    assert response.status_code == 200
    assert response.json()["name"] == "v20" and response.json()["fresh"] == "2"
    response = api.patch(image["id"], [{"add": "/fresh", "value": "3"}], media_type=V20)
    assert response.status_code == 409


def test_v21_add_overwrites(api: Api) -> None:
    image = api.create(a="1")
    response = api.patch(image["id"], [{"op": "add", "path": "/a", "value": "2"}])
    assert response.status_code == 200 and response.json()["a"] == "2"


def test_wrong_patch_content_type_is_415_with_accept_patch(api: Api) -> None:
    image = api.create()
    response = api.http.patch(f"/v2/images/{image['id']}", content=b"[]",
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 415
    assert "application/openstack-images-v2.1-json-patch" in response.headers["accept-patch"]
    assert "application/openstack-images-v2.0-json-patch" in response.headers["accept-patch"]


def test_empty_patch_changes_nothing(api: Api) -> None:
    image = api.create()
    response = api.patch(image["id"], [])
    assert response.status_code == 200
    assert response.json()["updated_at"] == image["updated_at"]


def test_replace_missing_custom_property_is_409(api: Api) -> None:
    image = api.create()
    response = api.patch(image["id"], [{"op": "replace", "path": "/nothing", "value": "x"}])
    assert response.status_code == 409
    assert "nothing" in response.json()["message"]


def test_remove_missing_custom_property_is_409(api: Api) -> None:
    image = api.create()
    assert api.patch(image["id"], [{"op": "remove", "path": "/nothing"}]).status_code == 409


def test_remove_base_property_is_403(api: Api) -> None:
    image = api.create(name="n")
    assert api.patch(image["id"], [{"op": "remove", "path": "/name"}]).status_code == 403


@pytest.mark.parametrize("path", ["/status", "/checksum", "/size", "/virtual_size", "/created_at", "/updated_at",
                                  "/id", "/self", "/file", "/schema", "/direct_url", "/os_hash_algo",
                                  "/os_hash_value"])
def test_read_only_paths_are_403(api: Api, path: str) -> None:
    image = api.create()
    response = api.patch(image["id"], [{"op": "replace", "path": path, "value": "x"}])
    assert response.status_code == 403
    assert "read-only" in response.json()["message"]


@pytest.mark.parametrize("path", ["/location", "/deleted", "/deleted_at", "/os_glance_foo"])
def test_reserved_paths_are_403(api: Api, path: str) -> None:
    image = api.create()
    response = api.patch(image["id"], [{"op": "add", "path": path, "value": "x"}])
    assert response.status_code == 403
    assert "reserved" in response.json()["message"]


def test_locations_cannot_be_patched(api: Api) -> None:
    image = api.create()
    response = api.patch(image["id"], [{"op": "add", "path": "/locations/-",
                                        "value": {"url": "http://x", "metadata": {}}}])
    assert response.status_code == 403


@pytest.mark.parametrize("document", [
    {"op": "replace", "path": "/name", "value": "x"},
    [["replace", "/name"]],
    [{"op": "move", "path": "/name", "from": "/x"}],
    [{"op": "test", "path": "/name", "value": "x"}],
    [{"op": "frobnicate", "path": "/name", "value": "x"}],
    [{"op": "replace", "value": "x"}],
    [{"op": "replace", "path": "/name"}],
    [{"op": "replace", "path": "name", "value": "x"}],
    [{"op": "replace", "path": "/tags/0", "value": "x"}],
    [{"op": "replace", "path": "//name", "value": "x"}],
    [{"op": "replace", "path": "/name/", "value": "x"}],
    [{"op": "replace", "path": "/a~2b", "value": "x"}],
    [{"op": "replace", "path": "/min_ram", "value": "5"}],
    [{"op": "replace", "path": "/min_disk", "value": -5}],
    [{"op": "add", "path": "/custom", "value": 5}],
    [{"op": "replace", "path": "/visibility", "value": "everyone"}],
    [{"op": "replace", "path": "/tags", "value": "notalist"}],
])
def test_malformed_patches_are_400(api: Api, document: object) -> None:
    image = api.create(name="before")
    response = api.http.patch(f"/v2/images/{image['id']}", content=json.dumps(document),
                              headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert response.status_code == 400, response.text
    assert api.show(image["id"])["name"] == "before"


def test_json_pointer_escapes(api: Api) -> None:
    image = api.create()
    response = api.patch(image["id"], [{"op": "add", "path": "/a~1b~0c", "value": "v"}])
    assert response.status_code == 200
    assert response.json()["a/b~c"] == "v"


def test_failed_patch_changes_nothing(api: Api) -> None:
    image = api.create(name="before")
    response = api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "after"},
                                       {"op": "remove", "path": "/missing"}])
    assert response.status_code == 409
    assert api.show(image["id"])["name"] == "before"


def test_disk_format_is_frozen_once_active(api: Api) -> None:
    image = api.create(disk_format="raw")
    assert api.upload(image["id"], b"data").status_code == 204
    response = api.patch(image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert response.status_code == 403
    response = api.patch(image["id"], [{"op": "replace", "path": "/container_format", "value": "ovf"}])
    assert response.status_code == 403


def test_disk_format_can_change_while_queued(api: Api) -> None:
    image = api.create(disk_format="raw")
    response = api.patch(image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert response.status_code == 200 and response.json()["disk_format"] == "qcow2"


def test_owner_change_needs_admin(api: Api, admin: Api) -> None:
    image = api.create()
    response = api.patch(image["id"], [{"op": "replace", "path": "/owner", "value": "someone"}])
    assert response.status_code == 403
    response = admin.patch(image["id"], [{"op": "replace", "path": "/owner", "value": "someone"}])
    assert response.status_code == 200 and response.json()["owner"] == "someone"


def test_publicizing_needs_admin(api: Api, admin: Api) -> None:
    image = api.create()
    assert api.patch(image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}]).status_code == 403
    response = admin.patch(image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}])
    assert response.status_code == 200


def test_other_projects_cannot_patch(api: Api) -> None:
    private = api.create(visibility="private")
    other = api.as_project(uuid.uuid4().hex)
    assert other.patch(private["id"], [{"op": "replace", "path": "/name", "value": "x"}]).status_code == 404


def test_reader_cannot_patch_own_project_image(api: Api, server) -> None:
    image = api.create()
    reader = Api(server.url, api.project, roles="reader")
    assert reader.patch(image["id"], [{"op": "replace", "path": "/name", "value": "x"}]).status_code == 403


def test_property_quota_on_patch_is_413(api: Api) -> None:
    image = api.create(**{f"p{i}": "v" for i in range(128)})
    response = api.patch(image["id"], [{"op": "add", "path": "/one_more", "value": "v"}])
    assert response.status_code == 413
    response = api.patch(image["id"], [{"op": "replace", "path": "/p1", "value": "changed"}])
    assert response.status_code == 200


def test_updated_at_moves_forward(api: Api) -> None:
    image = api.create()
    response = api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "later"}])
    assert response.json()["updated_at"] >= image["updated_at"]


def test_concurrent_patches_lose_no_update(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    image = api.create()

    def add(i: int) -> int:
        client = api.as_project(api.project)
        try:
            return client.patch(image["id"], [{"op": "add", "path": f"/k{i}", "value": str(i)}]).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(add, range(24)))
    assert codes == [200] * 24
    body = api.show(image["id"])
    assert all(body[f"k{i}"] == str(i) for i in range(24))
