"""POST /v2/images and GET /v2/images/{id}."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api


def test_create_answers_201_with_defaults_and_location(api: Api, project: str) -> None:
    response = api.http.post("/v2/images", json={"name": "cirros"})
    assert response.status_code == 201
    image = response.json()
    assert response.headers["location"] == f"{api.base_url}/v2/images/{image['id']}"
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["protected"] is False and image["os_hidden"] is False
    assert image["min_ram"] == 0 and image["min_disk"] == 0
    assert image["owner"] == project
    assert image["tags"] == []
    assert image["size"] is None and image["checksum"] is None and image["virtual_size"] is None
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
    assert image["created_at"].endswith("Z") and len(image["created_at"]) == 20
    assert "direct_url" not in image and "locations" not in image and "stores" not in image
    assert response.headers["OpenStack-image-import-methods"] == "glance-direct,web-download"


def test_create_keeps_all_given_attributes(api: Api) -> None:
    image_id = str(uuid.uuid4())
    image = api.create(id=image_id, name="full", visibility="private", protected=True, os_hidden=True,
                       min_ram=512, min_disk=10, tags=["b", "a", "b"], disk_format="qcow2",
                       container_format="ovf", os_distro="ubuntu", **{"owner_specified.openstack.md5": ""})
    assert image["id"] == image_id
    assert image["visibility"] == "private"
    assert image["protected"] is True and image["os_hidden"] is True
    assert (image["min_ram"], image["min_disk"]) == (512, 10)
    assert sorted(image["tags"]) == ["a", "b"]
    assert (image["disk_format"], image["container_format"]) == ("qcow2", "ovf")
    assert image["os_distro"] == "ubuntu"
    assert image["owner_specified.openstack.md5"] == ""
    assert api.show(image_id) == image


def test_create_with_uppercase_id_is_normalised(api: Api) -> None:
    image_id = str(uuid.uuid4())
    image = api.create(id=image_id.upper())
    assert image["id"] == image_id
    assert api.http.get(f"/v2/images/{image_id.upper()}").status_code == 200


def test_duplicate_id_is_409_even_after_delete(api: Api) -> None:
    image = api.create()
    assert api.http.post("/v2/images", json={"id": image["id"]}).status_code == 409
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
    response = api.http.post("/v2/images", json={"id": image["id"]})
    assert response.status_code == 409
    assert image["id"] in response.json()["message"]


@pytest.mark.parametrize("name", ["self", "file", "schema", "direct_url", "stores"])
def test_link_attributes_are_read_only(api: Api, name: str) -> None:
    response = api.http.post("/v2/images", json={name: "x"})
    assert response.status_code == 403
    assert response.json()["message"] == f"Attribute '{name}' is read-only."


@pytest.mark.parametrize("name,value", [("status", "active"), ("checksum", "abc"), ("size", 3),
                                        ("virtual_size", 3), ("created_at", "2020-01-01T00:00:00Z"),
                                        ("updated_at", "2020-01-01T00:00:00Z"), ("os_hash_algo", "md5"),
                                        ("os_hash_value", "abc")])
def test_read_only_attributes_are_refused(api: Api, name: str, value: object) -> None:
    response = api.http.post("/v2/images", json={name: value})
    assert response.status_code == 403
    assert "read-only" in response.json()["message"]


@pytest.mark.parametrize("name", ["location", "locations", "deleted", "deleted_at", "os_glance_x",
                                  "os_glance_importing_to_stores"])
def test_reserved_attributes_are_refused(api: Api, name: str) -> None:
    value: object = [] if name == "locations" else "x"
    response = api.http.post("/v2/images", json={name: value})
    assert response.status_code == 403
    assert response.json()["message"] in (f"Attribute '{name}' is reserved.", f"Attribute '{name}' is read-only.")


@pytest.mark.parametrize("body,fragment", [
    ({"name": 5}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"visibility": "everyone"}, "visibility"),
    ({"protected": "yes"}, "protected"),
    ({"min_ram": -1}, "min_ram"),
    ({"min_disk": "5"}, "min_disk"),
    ({"disk_format": "floppy"}, "disk_format"),
    ({"container_format": "zip"}, "container_format"),
    ({"id": "not-a-uuid"}, "id"),
    ({"tags": "a"}, "tags"),
    ({"tags": ["x" * 256]}, "tags"),
    ({"custom": 5}, "custom"),
    ({"custom": None}, "custom"),
    ({"kernel_id": "not-a-uuid"}, "kernel_id"),
])
def test_schema_violations_are_400_naming_the_attribute(api: Api, body: dict, fragment: str) -> None:
    response = api.http.post("/v2/images", json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


def test_overlong_property_name_is_400(api: Api) -> None:
    response = api.http.post("/v2/images", json={"k" * 256: "v"})
    assert response.status_code == 400


def test_property_quota_is_413(api: Api) -> None:
    body = {f"p{i}": "v" for i in range(129)}
    response = api.http.post("/v2/images", json=body)
    assert response.status_code == 413
    assert "128" in response.json()["message"]


def test_tag_quota_is_413(api: Api) -> None:
    response = api.http.post("/v2/images", json={"tags": [f"t{i}" for i in range(129)]})
    assert response.status_code == 413


def test_nullable_schema_property_may_be_null(api: Api) -> None:
    image = api.create(kernel_id=None)
    assert image["kernel_id"] is None


def test_non_admin_cannot_make_images_public_but_admin_can(api: Api, admin: Api) -> None:
    response = api.http.post("/v2/images", json={"visibility": "public"})
    assert response.status_code == 403
    assert "public" in response.json()["message"]
    assert admin.create(visibility="public")["visibility"] == "public"


def test_member_can_make_community_images(api: Api) -> None:
    assert api.create(visibility="community")["visibility"] == "community"


def test_non_admin_cannot_create_for_another_project(api: Api, admin: Api) -> None:
    response = api.http.post("/v2/images", json={"owner": "someone-else"})
    assert response.status_code == 403
    assert admin.create(owner="someone-else")["owner"] == "someone-else"


def test_reader_cannot_create(server, project: str) -> None:
    reader = Api(server.url, project, roles="reader")
    response = reader.http.post("/v2/images", json={"name": "nope"})
    assert response.status_code == 403


def test_headerless_caller_is_admin_without_owner(admin: Api) -> None:
    image = admin.create(name="unowned")
    assert image["owner"] is None


def test_show_unknown_image_is_404(api: Api) -> None:
    response = api.http.get(f"/v2/images/{uuid.uuid4()}")
    assert response.status_code == 404


def test_private_image_of_another_project_is_404_not_403(api: Api) -> None:
    image = api.create(visibility="private")
    other = api.as_project(uuid.uuid4().hex)
    assert other.http.get(f"/v2/images/{image['id']}").status_code == 404
    assert other.http.delete(f"/v2/images/{image['id']}").status_code == 404
    assert other.http.get(f"/v2/images/{image['id']}/file").status_code == 404


def test_community_image_is_readable_but_not_changeable_by_others(api: Api) -> None:
    image = api.create(visibility="community")
    other = api.as_project(uuid.uuid4().hex)
    assert other.http.get(f"/v2/images/{image['id']}").status_code == 200
    assert other.patch(image["id"], [{"op": "replace", "path": "/name", "value": "x"}]).status_code == 403
    assert other.http.delete(f"/v2/images/{image['id']}").status_code == 403
