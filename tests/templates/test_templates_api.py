"""/v2/templates through raw HTTP against a real server: publish, read, list, version, patch, delete, share."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import Api
from tests.templates.conftest import PARAMETERS, USER_DATA, active_image, publish, template_body

PATCH = "application/openstack-images-v2.1-json-patch"


def patch(api: Api, template_id: str, operations: list[dict[str, Any]]) -> Any:
    return api.http.patch(f"/v2/templates/{template_id}", content=json.dumps(operations),
                          headers={"Content-Type": PATCH})


def test_a_published_template_is_shown_as_it_was_created(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"], tags=["web", "demo"], metadata={"app": "demo"}, min_ram=512)
    shown = api.http.get(f"/v2/templates/{created['id']}").json()
    assert shown == created
    assert shown["owner"] == api.project and shown["visibility"] == "private" and shown["protected"] is False
    assert shown["parameters"] == PARAMETERS and shown["user_data"] == USER_DATA
    assert shown["tags"] == ["demo", "web"] and shown["metadata"] == {"app": "demo"} and shown["min_ram"] == 512
    assert shown["self"] == f"/v2/templates/{created['id']}" and shown["schema"] == "/v2/schemas/template"


def test_the_schemas_describe_the_resource(api: Api) -> None:
    one = api.http.get("/v2/schemas/template").json()
    assert one["name"] == "template" and {"parameters", "user_data", "version", "image_id"} <= set(one["properties"])
    many = api.http.get("/v2/schemas/templates").json()
    assert many["properties"]["templates"]["items"]["name"] == "template"


def test_the_parameters_schema_is_a_json_schema_of_the_parameters(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    schema = api.http.get(f"/v2/templates/{created['id']}/parameters-schema").json()
    assert schema["type"] == "object" and schema["required"] == ["host"]
    assert schema["properties"]["host"]["format"] == "hostname"
    assert schema["properties"]["ports"]["items"] == {"type": "integer", "minimum": 1, "maximum": 65535}
    assert schema["properties"]["password"]["writeOnly"] is True


def test_listing_shows_the_latest_release_unless_asked_for_others(api: Api, image: dict[str, Any]) -> None:
    name = f"tpl-{uuid.uuid4().hex[:8]}"
    for version in ("1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1"):
        publish(api, image["id"], name=name, version=version)
    latest = api.http.get("/v2/templates", params={"name": name}).json()["templates"]
    assert [t["version"] for t in latest] == ["1.10.0"]
    every = api.http.get("/v2/templates", params={"name": name, "all_versions": "true"}).json()["templates"]
    assert sorted(t["version"] for t in every) == ["1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1"]
    one = api.http.get("/v2/templates", params={"name": name, "version": "2.0.0-rc.1"}).json()["templates"]
    assert [t["version"] for t in one] == ["2.0.0-rc.1"]


def test_versions_sort_semantically(api: Api, image: dict[str, Any]) -> None:
    name = f"tpl-{uuid.uuid4().hex[:8]}"
    for version in ("1.10.0", "1.2.0", "1.0.0", "2.0.0-rc.1"):
        publish(api, image["id"], name=name, version=version)
    every = api.http.get("/v2/templates", params={"name": name, "all_versions": "true", "sort_key": "version",
                                                  "sort_dir": "asc"}).json()["templates"]
    assert [t["version"] for t in every] == ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1"]


def test_listing_pages_with_limit_and_marker(api: Api, image: dict[str, Any]) -> None:
    tag = uuid.uuid4().hex
    made = [publish(api, image["id"], tags=[tag])["id"] for _ in range(3)]
    first = api.http.get("/v2/templates", params={"tag": tag, "limit": 2}).json()
    assert len(first["templates"]) == 2 and "next" in first
    rest = api.http.get(first["next"]).json()
    seen = [t["id"] for t in first["templates"] + rest["templates"]]
    assert sorted(seen) == sorted(made) and "next" not in rest


def test_a_bad_list_query_is_400(api: Api) -> None:
    response = api.http.get("/v2/templates", params={"sort_key": "size"})
    assert response.status_code == 400 and "sort_key" in response.json()["message"]


def test_a_published_version_is_immutable_and_changes_make_a_new_version(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    refused = patch(api, created["id"], [{"op": "replace", "path": "/parameters/motd/default", "value": "hi"}])
    assert refused.status_code == 409 and "higher version" in refused.json()["message"]
    response = patch(api, created["id"], [{"op": "replace", "path": "/parameters/motd/default", "value": "hi"},
                                          {"op": "replace", "path": "/version", "value": "1.1.0"}])
    assert response.status_code == 201, response.text
    newer = response.json()
    assert newer["id"] != created["id"] and newer["version"] == "1.1.0"
    assert newer["parameters"]["motd"]["default"] == "hi"
    assert response.headers["Location"].endswith(f"/v2/templates/{newer['id']}")
    assert api.http.get(f"/v2/templates/{created['id']}").json()["parameters"]["motd"]["default"] == "welcome"
    lower = patch(api, newer["id"], [{"op": "replace", "path": "/version", "value": "1.0.1"}])
    assert lower.status_code == 409


def test_listing_attributes_change_in_place(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    response = patch(api, created["id"], [{"op": "replace", "path": "/deprecated", "value": True},
                                          {"op": "add", "path": "/tags/-", "value": "old"},
                                          {"op": "replace", "path": "/protected", "value": True}])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == created["id"] and body["deprecated"] is True and body["tags"] == ["old"]
    assert api.http.delete(f"/v2/templates/{created['id']}").status_code == 403
    assert patch(api, created["id"], [{"op": "replace", "path": "/protected", "value": False}]).status_code == 200
    assert api.http.delete(f"/v2/templates/{created['id']}").status_code == 204
    assert api.http.get(f"/v2/templates/{created['id']}").status_code == 404


def test_read_only_and_unknown_attributes_are_refused(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    assert patch(api, created["id"], [{"op": "replace", "path": "/id", "value": "x"}]).status_code == 403
    assert patch(api, created["id"], [{"op": "add", "path": "/colour", "value": "x"}]).status_code == 400
    assert patch(api, created["id"], [{"op": "remove", "path": "/visibility"}]).status_code == 400
    assert patch(api, created["id"], [{"op": "remove", "path": "/parameters/nope"}]).status_code == 400
    assert patch(api, created["id"], [{"op": "replace", "path": "/tags", "value": "x"}]).status_code == 400
    assert api.http.post("/v2/templates", json={**template_body(image["id"]), "colour": 1}).status_code == 400


def test_the_same_name_and_version_cannot_be_published_twice(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    again = api.http.post("/v2/templates", json=template_body(image["id"], name=created["name"]))
    assert again.status_code == 409 and "already exists" in again.json()["message"]


def test_a_private_template_is_404_to_other_projects(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    stranger = api.as_project(uuid.uuid4().hex)
    assert stranger.http.get(f"/v2/templates/{created['id']}").status_code == 404
    assert stranger.http.post(f"/v2/templates/{created['id']}/render", json={"parameters": {}}).status_code == 404
    assert stranger.http.delete(f"/v2/templates/{created['id']}").status_code == 404
    assert created["id"] not in [t["id"] for t in stranger.http.get("/v2/templates").json()["templates"]]


def test_a_shared_template_is_seen_by_members_and_listed_once_accepted(api: Api) -> None:
    image = active_image(api, visibility="shared")
    created = publish(api, image["id"], visibility="shared")
    guest = api.as_project(uuid.uuid4().hex)
    base = f"/v2/templates/{created['id']}/members"
    assert api.http.post(base, json={"member": guest.project}).json()["status"] == "pending"
    assert guest.http.get(f"/v2/templates/{created['id']}").status_code == 200
    assert created["id"] not in [t["id"] for t in guest.http.get("/v2/templates").json()["templates"]]
    assert guest.http.put(f"{base}/{guest.project}", json={"status": "accepted"}).json()["status"] == "accepted"
    assert created["id"] in [t["id"] for t in guest.http.get("/v2/templates").json()["templates"]]
    assert guest.http.post(base, json={"member": uuid.uuid4().hex}).status_code == 403
    assert api.http.delete(f"{base}/{guest.project}").status_code == 204
    assert guest.http.get(f"/v2/templates/{created['id']}").status_code == 404


def test_only_shared_templates_have_members(api: Api, image: dict[str, Any]) -> None:
    created = publish(api, image["id"])
    response = api.http.post(f"/v2/templates/{created['id']}/members", json={"member": "someone"})
    assert response.status_code == 403 and "shared" in response.json()["message"]


def test_the_image_must_be_active_and_visible_to_the_audience(api: Api) -> None:
    queued = api.create()
    response = api.http.post("/v2/templates", json=template_body(queued["id"]))
    assert response.status_code == 409 and "active" in response.json()["message"]
    private = active_image(api)
    response = api.http.post("/v2/templates", json=template_body(private["id"], visibility="community"))
    assert response.status_code == 409 and "could not see it" in response.json()["message"]
    unknown = api.http.post("/v2/templates", json=template_body(str(uuid.uuid4())))
    assert unknown.status_code == 400 and "image_id" in unknown.json()["message"]


def test_only_admins_publish_public_templates(api: Api, admin: Api) -> None:
    image = active_image(admin, visibility="public")
    assert api.http.post("/v2/templates", json=template_body(image["id"], visibility="public")).status_code == 403
    created = publish(admin, image["id"], visibility="public")
    assert api.http.get(f"/v2/templates/{created['id']}").status_code == 200


def test_a_member_that_cannot_see_the_image_gets_409_when_rendering(api: Api) -> None:
    image = active_image(api, visibility="shared")
    created = publish(api, image["id"], visibility="shared")
    guest = api.as_project(uuid.uuid4().hex)
    api.http.post(f"/v2/templates/{created['id']}/members", json={"member": guest.project})
    response = guest.http.post(f"/v2/templates/{created['id']}/render", json={"parameters": {"host": "a"}})
    assert response.status_code == 409 and "not visible to your project" in response.json()["message"]
    api.http.post(f"/v2/images/{image['id']}/members", json={"member": guest.project})
    response = guest.http.post(f"/v2/templates/{created['id']}/render", json={"parameters": {"host": "a"}})
    assert response.status_code == 200, response.text


def test_widening_the_audience_needs_an_image_the_new_audience_can_see(api: Api) -> None:
    private_image = active_image(api, visibility="private")
    created = publish(api, private_image["id"])
    response = patch(api, created["id"], [{"op": "replace", "path": "/visibility", "value": "shared"}])
    assert response.status_code == 409 and "could not see it" in response.json()["message"]
    assert api.http.get(f"/v2/templates/{created['id']}").json()["visibility"] == "private"
