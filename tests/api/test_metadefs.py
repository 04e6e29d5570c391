"""``/v2/metadefs``: the definitions catalog with Glance's paths, bodies, codes, paging and filters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests.conftest import Api, Server

NS = "/v2/metadefs/namespaces"


@pytest.fixture
def name() -> str:
    return f"Glimpse::Test::{uuid.uuid4().hex[:12]}"


@pytest.fixture
def namespace(admin: Api, name: str) -> Iterator[str]:
    """A public namespace with a property, an object, tags and an image association."""
    response = admin.http.post(NS, json={
        "namespace": name, "display_name": "Test", "description": "For tests", "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "t_"},
                                       {"name": "OS::Nova::Flavor", "prefix": "t:"}],
        "properties": {"cores": {"title": "Cores", "type": "integer", "minimum": 1, "maximum": 8}},
        "objects": [{"name": "Disk", "required": ["bus"], "properties": {
            "bus": {"title": "Bus", "type": "string", "enum": ["virtio", "scsi"]}}}],
        "tags": [{"name": "alpha"}, {"name": "beta"}]})
    assert response.status_code == 201, response.text
    yield name
    admin.http.put(f"{NS}/{name}", json={"namespace": name, "visibility": "public"})  # unprotect
    admin.http.delete(f"{NS}/{name}")


def test_create_returns_201_with_location_and_the_namespace(admin: Api, name: str) -> None:
    response = admin.http.post(NS, json={"namespace": name, "display_name": "D", "tags": [{"name": "x"}]})
    assert response.status_code == 201
    assert response.headers["location"] == f"{admin.base_url}{NS}/{name}"
    body = response.json()
    assert body["namespace"] == name and body["visibility"] == "private" and body["protected"] is False
    assert body["self"] == f"{NS}/{name}" and body["schema"] == "/v2/schemas/metadefs/namespace"
    assert body["tags"] == [{"name": "x"}] and body["created_at"].endswith("Z")
    assert admin.http.post(NS, json={"namespace": name}).status_code == 409
    assert admin.http.delete(f"{NS}/{name}").status_code == 204


@pytest.mark.parametrize("body", [{}, {"namespace": "x" * 81}, {"namespace": "n", "visibility": "shared"},
                                  {"namespace": "n", "unknown": 1},
                                  {"namespace": "n", "properties": {"p": {"type": "string"}}},
                                  {"namespace": "n", "properties": {"p": {"title": "P", "type": "strin"}}},
                                  {"namespace": "n", "properties": {"p": {"title": "P", "type": "string",
                                                                          "pattern": "("}}}])
def test_create_refuses_bodies_that_do_not_fit_the_schema(admin: Api, body: dict[str, Any]) -> None:
    response = admin.http.post(NS, json=body)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("key", ["self", "schema", "created_at", "updated_at"])
def test_create_refuses_read_only_keys_with_403(admin: Api, name: str, key: str) -> None:
    response = admin.http.post(NS, json={"namespace": name, key: "x"})
    assert response.status_code == 403 and f"'{key}' is read-only" in response.json()["message"]


def test_show_has_everything_and_resource_type_prefixes_names(admin: Api, namespace: str) -> None:
    body = admin.http.get(f"{NS}/{namespace}").json()
    assert body["properties"] == {"cores": {"title": "Cores", "type": "integer", "minimum": 1, "maximum": 8}}
    assert [a["name"] for a in body["resource_type_associations"]] == ["OS::Glance::Image", "OS::Nova::Flavor"]
    assert body["objects"][0]["self"] == f"{NS}/{namespace}/objects/Disk" and body["tags"] == [
        {"name": "alpha"}, {"name": "beta"}]
    prefixed = admin.http.get(f"{NS}/{namespace}", params={"resource_type": "OS::Glance::Image"}).json()
    assert list(prefixed["properties"]) == ["t_cores"]
    assert prefixed["objects"][0]["required"] == ["t_bus"] and list(prefixed["objects"][0]["properties"]) == ["t_bus"]
    assert list(admin.http.get(f"{NS}/{namespace}", params={"resource_type": "OS::Nova::Flavor"}).json()[
        "properties"]) == ["t:cores"]
    assert admin.http.get(f"{NS}/Glimpse::Test::absent").status_code == 404


def test_list_pages_sorts_and_filters(admin: Api) -> None:
    prefix = f"Glimpse::Page::{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}::{i}" for i in range(5)]
    for i, item in enumerate(names):
        associations = [{"name": "Glimpse::Test::Kind"}] if i % 2 == 0 else []
        assert admin.http.post(NS, json={"namespace": item, "visibility": "public" if i < 3 else "private",
                                         "resource_type_associations": associations}).status_code == 201
    try:
        params = {"sort_key": "namespace", "sort_dir": "asc", "limit": "2", "resource_types": "Glimpse::Test::Kind"}
        first = admin.http.get(NS, params=params).json()
        assert [n["namespace"] for n in first["namespaces"]] == [names[0], names[2]]
        assert first["schema"] == "/v2/schemas/metadefs/namespaces"
        assert first["first"].startswith(f"{NS}?") and "marker" in first["next"]
        second = admin.http.get(first["next"]).json()
        assert [n["namespace"] for n in second["namespaces"]] == [names[4]] and "next" not in second
        assert second["namespaces"][0]["resource_type_associations"][0]["name"] == "Glimpse::Test::Kind"
        private = admin.http.get(NS, params={"visibility": "private", "resource_types": "Glimpse::Test::Kind",
                                             "limit": "100"}).json()
        assert [n["namespace"] for n in private["namespaces"] if n["namespace"].startswith(prefix)] == [names[4]]
        everything = admin.http.get(NS, params={"sort_key": "namespace", "sort_dir": "desc", "limit": "1000"})
        listed = [n["namespace"] for n in everything.json()["namespaces"] if n["namespace"].startswith(prefix)]
        assert listed == sorted(names, reverse=True)
        assert "properties" not in everything.json()["namespaces"][0]
    finally:
        for item in names:
            admin.http.delete(f"{NS}/{item}")


@pytest.mark.parametrize(("params", "status"), [({"limit": "-1"}, 400), ({"limit": "x"}, 400),
                                                ({"sort_dir": "up"}, 400), ({"sort_key": "owner"}, 400),
                                                ({"visibility": "shared"}, 400), ({"marker": "Glimpse::none"}, 404),
                                                ({"limit": "0"}, 200)])
def test_list_parameters_are_checked(admin: Api, params: dict[str, str], status: int) -> None:
    response = admin.http.get(NS, params=params)
    assert response.status_code == status
    if status == 200:
        assert response.json()["namespaces"] == []


def test_put_replaces_the_namespace_attributes_and_may_rename(admin: Api, namespace: str) -> None:
    renamed = f"{namespace}-renamed"
    response = admin.http.put(f"{NS}/{namespace}", json={"namespace": renamed, "description": "new"})
    assert response.status_code == 200
    body = response.json()
    assert (body["namespace"], body["description"], body["visibility"]) == (renamed, "new", "private")
    assert "display_name" not in body
    assert admin.http.get(f"{NS}/{renamed}/properties").json()["properties"]  # contents stay
    assert admin.http.put(f"{NS}/{renamed}", json={"namespace": renamed}).status_code == 200
    assert admin.http.put(f"{NS}/{renamed}", json={"description": "no name"}).status_code == 400
    assert admin.http.put(f"{NS}/{renamed}", json={"namespace": namespace, "visibility": "public"}).status_code == 200


def test_a_protected_namespace_and_its_contents_cannot_be_deleted(admin: Api, namespace: str) -> None:
    assert admin.http.put(f"{NS}/{namespace}", json={"namespace": namespace, "protected": True,
                                                     "visibility": "public"}).status_code == 200
    for path in ("", "/properties", "/objects", "/tags", "/properties/cores", "/objects/Disk", "/tags/alpha",
                 "/resource_types/OS::Glance::Image"):
        response = admin.http.delete(f"{NS}/{namespace}{path}")
        assert response.status_code == 403 and "protected" in response.json()["message"], path
    assert admin.http.get(f"{NS}/{namespace}").json()["properties"]


def test_delete_cascades_and_bulk_deletes_empty_a_kind(admin: Api, namespace: str) -> None:
    assert admin.http.delete(f"{NS}/{namespace}/properties").status_code == 204
    assert admin.http.delete(f"{NS}/{namespace}/tags").status_code == 204
    body = admin.http.get(f"{NS}/{namespace}").json()
    assert "properties" not in body and "tags" not in body and body["objects"]
    assert admin.http.delete(f"{NS}/{namespace}").status_code == 204
    assert admin.http.get(f"{NS}/{namespace}/objects").status_code == 404


def test_property_definitions(admin: Api, namespace: str) -> None:
    path = f"{NS}/{namespace}/properties"
    created = admin.http.post(path, json={"name": "mode", "title": "Mode", "type": "string", "enum": ["a", "b"]})
    assert created.status_code == 201
    assert created.json() == {"name": "mode", "title": "Mode", "type": "string", "enum": ["a", "b"]}
    assert admin.http.post(path, json={"name": "mode", "title": "M", "type": "string"}).status_code == 409
    assert admin.http.post(path, json={"title": "M", "type": "string"}).status_code == 400
    assert admin.http.post(path, json={"name": "x", "title": "M", "type": "string",
                                       "created_at": "now"}).status_code == 403
    listing = admin.http.get(path).json()["properties"]
    assert set(listing) == {"cores", "mode"} and "name" not in listing["mode"]
    assert admin.http.get(f"{path}/mode").json()["enum"] == ["a", "b"]
    prefixed = admin.http.get(f"{path}/t_mode", params={"resource_type": "OS::Glance::Image"})
    assert prefixed.status_code == 200 and prefixed.json()["name"] == "mode"
    assert admin.http.get(f"{path}/mode", params={"resource_type": "OS::Glance::Image"}).status_code == 404
    renamed = admin.http.put(f"{path}/mode", json={"name": "mode2", "title": "Mode", "type": "boolean"})
    assert renamed.status_code == 200 and renamed.json()["type"] == "boolean"
    assert admin.http.put(f"{path}/mode2", json={"name": "cores", "title": "C", "type": "string"}).status_code == 409
    assert admin.http.get(f"{path}/mode").status_code == 404
    assert admin.http.delete(f"{path}/mode2").status_code == 204
    assert admin.http.delete(f"{path}/mode2").status_code == 404


def test_objects(admin: Api, namespace: str) -> None:
    path = f"{NS}/{namespace}/objects"
    created = admin.http.post(path, json={"name": "Net", "description": "d", "properties": {
        "model": {"title": "Model", "type": "string"}}})
    assert created.status_code == 201
    body = created.json()
    assert body["self"] == f"{path}/Net" and body["schema"] == "/v2/schemas/metadefs/object"
    assert admin.http.post(path, json={"name": "Net"}).status_code == 409
    assert admin.http.post(path, json={"name": "Bad", "properties": {"p": {"type": "string"}}}).status_code == 400
    listing = admin.http.get(path).json()
    assert [o["name"] for o in listing["objects"]] == ["Disk", "Net"]
    assert listing["schema"] == "v2/schemas/metadefs/objects"
    replaced = admin.http.put(f"{path}/Net", json={"name": "Network", "required": ["model"], "properties": {
        "model": {"title": "Model", "type": "string"}}})
    assert replaced.status_code == 200 and replaced.json()["required"] == ["model"]
    assert "description" not in replaced.json()
    assert admin.http.get(f"{path}/Net").status_code == 404
    assert admin.http.delete(f"{path}/Network").status_code == 204


def test_tags_replace_append_rename_and_page(admin: Api, namespace: str) -> None:
    path = f"{NS}/{namespace}/tags"
    replaced = admin.http.post(path, json={"tags": [{"name": "c"}, {"name": "d"}]})
    assert replaced.status_code == 201 and replaced.json() == {"tags": [{"name": "c"}, {"name": "d"}]}
    assert [t["name"] for t in admin.http.get(path).json()["tags"]] == ["c", "d"]
    appended = admin.http.post(path, json={"tags": [{"name": "e"}]}, headers={"X-Openstack-Append": "true"})
    assert appended.status_code == 201
    assert admin.http.post(path, json={"tags": [{"name": "e"}]}, headers={"X-Openstack-Append": "true"}).status_code == 409
    assert admin.http.post(path, json={"tags": [{"name": "f"}, {"name": "f"}]}).status_code == 409
    assert [t["name"] for t in admin.http.get(path).json()["tags"]] == ["c", "d", "e"]  # all or nothing
    one = admin.http.post(f"{path}/g")
    assert one.status_code == 201 and one.json()["name"] == "g" and "created_at" in one.json()
    assert admin.http.post(f"{path}/g").status_code == 409
    assert admin.http.put(f"{path}/g", json={"name": "h"}).json()["name"] == "h"
    assert admin.http.put(f"{path}/h", json={"name": "c"}).status_code == 409
    page = admin.http.get(path, params={"limit": "2", "sort_key": "name", "sort_dir": "desc"}).json()
    assert page == {"tags": [{"name": "h"}, {"name": "e"}]}
    after = admin.http.get(path, params={"limit": "2", "sort_key": "name", "sort_dir": "desc", "marker": "e"}).json()
    assert after == {"tags": [{"name": "d"}, {"name": "c"}]}
    assert admin.http.get(f"{path}/h").json()["name"] == "h"
    assert admin.http.delete(f"{path}/h").status_code == 204
    assert admin.http.get(f"{path}/h").status_code == 404


def test_resource_types_and_associations(admin: Api, namespace: str) -> None:
    kind = f"Glimpse::Kind::{uuid.uuid4().hex[:8]}"
    path = f"{NS}/{namespace}/resource_types"
    created = admin.http.post(path, json={"name": kind, "prefix": "k_", "properties_target": "image"})
    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("name", "prefix", "properties_target")} == {
        "name": kind, "prefix": "k_", "properties_target": "image"}
    assert admin.http.post(path, json={"name": kind}).status_code == 409
    assert admin.http.post(path, json={"prefix": "x"}).status_code == 400
    assert kind in [t["name"] for t in admin.http.get("/v2/metadefs/resource_types").json()["resource_types"]]
    names = [a["name"] for a in admin.http.get(path).json()["resource_type_associations"]]
    assert names == ["OS::Glance::Image", "OS::Nova::Flavor", kind]
    assert admin.http.delete(f"{path}/{kind}").status_code == 204
    assert admin.http.delete(f"{path}/{kind}").status_code == 404


def test_members_read_public_namespaces_but_only_admins_write(api: Api, namespace: str) -> None:
    assert api.http.get(f"{NS}/{namespace}").status_code == 200
    assert api.http.get(f"{NS}/{namespace}/properties/cores").status_code == 200
    assert api.http.post(NS, json={"namespace": f"{namespace}-mine"}).status_code == 403
    assert api.http.delete(f"{NS}/{namespace}").status_code == 403
    assert api.http.post(f"{NS}/{namespace}/tags/mine").status_code == 403
    assert api.http.put(f"{NS}/{namespace}/properties/cores", json={"name": "cores", "title": "C",
                                                                     "type": "string"}).status_code == 403


def test_an_invisible_namespace_answers_404_everywhere(admin: Api, server: Server, name: str) -> None:
    owner, other = uuid.uuid4().hex, uuid.uuid4().hex
    assert admin.http.post(NS, json={"namespace": name, "owner": owner, "properties": {
        "p": {"title": "P", "type": "string"}}}).status_code == 201
    mine, theirs = Api(server.url, owner), Api(server.url, other)
    try:
        assert mine.http.get(f"{NS}/{name}").status_code == 200
        assert name in [n["namespace"] for n in mine.http.get(NS, params={"limit": "1000"}).json()["namespaces"]]
        assert name not in [n["namespace"] for n in theirs.http.get(NS, params={"limit": "1000"}).json()["namespaces"]]
        for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/properties"),
                             ("GET", "/properties/p"), ("DELETE", "/properties/p"), ("GET", "/objects"),
                             ("POST", "/objects"), ("GET", "/tags"), ("POST", "/tags/t"),
                             ("GET", "/resource_types"), ("POST", "/resource_types")):
            body = ({"namespace": name} if method == "PUT" else
                    {"name": "x"} if method == "POST" and path != "/tags/t" else None)
            response = theirs.http.request(method, f"{NS}/{name}{path}", json=body)
            assert response.status_code == 404, (method, path, response.text)
        assert mine.http.delete(f"{NS}/{name}").status_code == 403  # visible: refused, not hidden
    finally:
        mine.close()
        theirs.close()
        admin.http.delete(f"{NS}/{name}")


@pytest.mark.parametrize("kind", ["namespace", "namespaces", "object", "objects", "property", "properties",
                                  "resource_type", "resource_types", "tag", "tags"])
def test_metadef_schemas_are_served_and_describe_the_bodies(admin: Api, namespace: str, kind: str) -> None:
    response = admin.http.get(f"/v2/schemas/metadefs/{kind}")
    assert response.status_code == 200
    schema = response.json()
    jsonschema.Draft4Validator.check_schema(schema)
    detail = admin.http.get(f"{NS}/{namespace}").json()
    bodies = {
        "namespace": {k: v for k, v in detail.items() if k not in ("objects",)},
        "namespaces": admin.http.get(NS).json(),
        "object": admin.http.get(f"{NS}/{namespace}/objects/Disk").json(),
        "property": admin.http.get(f"{NS}/{namespace}/properties/cores").json(),
        "properties": admin.http.get(f"{NS}/{namespace}/properties").json(),
        "resource_type": {"name": "OS::Glance::Image", "prefix": "t_"},
        "resource_types": admin.http.get(f"{NS}/{namespace}/resource_types").json(),
        "tag": admin.http.get(f"{NS}/{namespace}/tags/alpha").json(),
        "tags": admin.http.get(f"{NS}/{namespace}/tags").json(),
    }
    if kind in bodies:
        jsonschema.validate(bodies[kind], schema)
    assert admin.http.get("/v2/schemas/metadefs/nothing").status_code == 404
    assert admin.http.post(f"/v2/schemas/metadefs/{kind}", json={}).status_code == 405
