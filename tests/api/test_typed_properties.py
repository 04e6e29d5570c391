"""Typed image properties over HTTP: the catalog's definitions enforced on create and update,
and advertised in ``/v2/schemas/image``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import Api, Server

PATCH = "application/openstack-images-v2.1-json-patch"


@pytest.fixture(autouse=True)
def _loaded(catalog: Path) -> None:
    """Every test here runs against the test catalog."""


def rejected(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.http.post("/v2/images", json={"disk_format": "raw", "container_format": "bare", **body})
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()
    return error


def test_values_of_the_defined_type_are_stored_in_canonical_form(api: Api) -> None:
    image = api.create(hw_cpu_sockets="02", hw_cpu_cores=16, hw_vif_multiqueue_enabled="Yes", hw_cpu_policy="dedicated",
                       hw_boot_menu_timeout="2.50", hw_cpu_features="avx, aes", hypervisor_type="qemu")
    assert image["hw_cpu_sockets"] == "2" and image["hw_cpu_cores"] == "16"
    assert image["hw_vif_multiqueue_enabled"] == "true" and image["hw_boot_menu_timeout"] == "2.5"
    assert image["hw_cpu_features"] == '["avx", "aes"]' and image["hw_cpu_policy"] == "dedicated"
    assert api.show(image["id"])["hw_cpu_cores"] == "16"


def test_json_typed_values_are_accepted_as_schema_driven_clients_send_them(api: Api) -> None:
    image = api.create(hw_cpu_threads=2, hw_vif_multiqueue_enabled=False, hw_boot_menu_timeout=1.5,
                       hw_cpu_features=["avx2"], hw_video_ram=0)
    assert (image["hw_cpu_threads"], image["hw_vif_multiqueue_enabled"]) == ("2", "false")
    assert (image["hw_boot_menu_timeout"], image["hw_cpu_features"], image["hw_video_ram"]) == ("1.5", '["avx2"]', "0")


@pytest.mark.parametrize(("body", "name", "rule"), [
    ({"hw_cpu_sockets": "two"}, "hw_cpu_sockets", "type"),
    ({"hw_cpu_sockets": 1.5}, "hw_cpu_sockets", "type"),
    ({"hw_cpu_sockets": True}, "hw_cpu_sockets", "type"),
    ({"hw_cpu_sockets": "0"}, "hw_cpu_sockets", "minimum"),
    ({"hw_cpu_cores": 65}, "hw_cpu_cores", "maximum"),
    ({"hw_cpu_threads": 3}, "hw_cpu_threads", "enum"),
    ({"hw_boot_menu_timeout": "31"}, "hw_boot_menu_timeout", "maximum"),
    ({"hw_boot_menu_timeout": "soon"}, "hw_boot_menu_timeout", "type"),
    ({"hw_vif_multiqueue_enabled": "maybe"}, "hw_vif_multiqueue_enabled", "type"),
    ({"hw_cpu_policy": "exclusive"}, "hw_cpu_policy", "enum"),
    ({"hypervisor_type": "QEMU"}, "hypervisor_type", "enum"),
    ({"hw_watchdog_action": 1}, "hw_watchdog_action", "type"),
    ({"img_hv_requested_version": "6.x"}, "img_hv_requested_version", "pattern"),
    ({"img_hv_requested_version": "1" * 33}, "img_hv_requested_version", "maxLength"),
    ({"hw_machine_type": "q"}, "hw_machine_type", "minLength"),
    ({"hw_machine_type": "Q35"}, "hw_machine_type", "pattern"),
    ({"hw_cpu_features": "avx,mmx"}, "hw_cpu_features", "enum"),
    ({"hw_cpu_features": ["avx", "avx"]}, "hw_cpu_features", "uniqueItems"),
    ({"hw_cpu_features": []}, "hw_cpu_features", "minItems"),
    ({"hw_cpu_features": "avx,avx2,aes,sse4_2"}, "hw_cpu_features", "maxItems"),
    ({"hw_cpu_features": "<any-of> avx"}, "hw_cpu_features", "operators"),
    ({"img_built_by": "me"}, "img_built_by", "readonly"),
    ({"sw_database_postgresql_listen_port": 5433}, "sw_database_postgresql_version", "required"),
])
def test_each_rule_refuses_what_does_not_fit_with_400_naming_property_rule_and_value(
        api: Api, body: dict[str, Any], name: str, rule: str) -> None:
    error = rejected(api, body)
    assert (error["property"], error["rule"]) == (name, rule)
    assert name in error["message"] and f"rule '{rule}'" in error["message"]
    if rule != "required":
        assert error["value"] == body[name]
        assert str(body[name])[:20] in error["message"]


def test_operator_values_are_checked_operand_by_operand(api: Api) -> None:
    image = api.create(hw_cpu_features="<all-in>  avx   aes")
    assert image["hw_cpu_features"] == "<all-in> avx aes"
    assert rejected(api, {"hw_cpu_features": "<all-in> avx mmx"})["rule"] == "enum"


def test_an_object_is_complete_or_refused(api: Api) -> None:
    image = api.create(sw_database_postgresql_version="16.2", sw_database_postgresql_listen_port="5433")
    assert image["sw_database_postgresql_listen_port"] == "5433"
    patch = api.patch(image["id"], [{"op": "remove", "path": "/sw_database_postgresql_version"}])
    assert patch.status_code == 400 and patch.json()["rule"] == "required"


def test_undefined_properties_stay_free_form_strings(api: Api) -> None:
    image = api.create(my_label="anything at all", hw_not_in_catalog="x")
    assert image["my_label"] == "anything at all" and image["hw_not_in_catalog"] == "x"
    assert rejected(api, {"my_label": 5})["message"]  # still strings only, as in Glance


def test_patch_checks_and_canonicalises_changed_values(api: Api) -> None:
    image = api.create(hw_cpu_sockets="2")
    response = api.patch(image["id"], [{"op": "replace", "path": "/hw_cpu_sockets", "value": 4},
                                       {"op": "add", "path": "/hw_vif_multiqueue_enabled", "value": "TRUE"}])
    assert response.status_code == 200, response.text
    assert (response.json()["hw_cpu_sockets"], response.json()["hw_vif_multiqueue_enabled"]) == ("4", "true")
    refused = api.patch(image["id"], [{"op": "add", "path": "/name", "value": "renamed"},
                                      {"op": "replace", "path": "/hw_cpu_sockets", "value": "9"}])
    assert refused.status_code == 400 and refused.json()["rule"] == "maximum"
    shown = api.show(image["id"])
    assert shown["name"] is None and shown["hw_cpu_sockets"] == "4"  # all or nothing


def test_readonly_properties_are_set_by_administrators_only(api: Api, admin: Api) -> None:
    image = api.create()
    assert api.patch(image["id"], [{"op": "add", "path": "/img_built_by", "value": "me"}]).status_code == 400
    done = admin.patch(image["id"], [{"op": "add", "path": "/img_built_by", "value": "pipeline-7"}])
    assert done.status_code == 200 and done.json()["img_built_by"] == "pipeline-7"
    removal = api.patch(image["id"], [{"op": "remove", "path": "/img_built_by"}])
    assert removal.status_code == 400 and removal.json()["rule"] == "readonly"


def test_list_filters_on_typed_properties_match_the_canonical_form(api: Api) -> None:
    batch = uuid.uuid4().hex
    image = api.create(hw_cpu_cores="12", batch=batch)
    found = api.http.get("/v2/images", params={"batch": batch, "hw_cpu_cores": "012"}).json()["images"]
    assert [i["id"] for i in found] == [image["id"]]


def test_a_private_namespace_binds_only_its_owner_project(server: Server) -> None:
    acme, other = Api(server.url, "acme-project"), Api(server.url, uuid.uuid4().hex)
    try:
        assert acme.create(acme_tier="gold")["acme_tier"] == "gold"
        assert rejected(acme, {"acme_tier": "bronze"})["rule"] == "enum"
        assert other.create(acme_tier="bronze")["acme_tier"] == "bronze"  # not ACME's rules
        assert "acme_tier" in acme.http.get("/v2/schemas/image").json()["properties"]
        assert "acme_tier" not in other.http.get("/v2/schemas/image").json()["properties"]
    finally:
        acme.close()
        other.close()


# -- the image schema


def test_the_image_schema_advertises_defined_properties_with_their_constraints(api: Api) -> None:
    properties = api.http.get("/v2/schemas/image").json()["properties"]
    sockets = properties["hw_cpu_sockets"]
    assert sockets["type"] == ["string", "integer"] and (sockets["minimum"], sockets["maximum"]) == (1, 8)
    assert sockets["is_base"] is False and sockets["title"] == "vCPU Sockets"
    assert sockets["metadef"] == {"namespace": "Glimpse::Test::VirtCPUTopology", "name": "cpu_sockets",
                                  "type": "integer", "prefix": "hw_", "minimum": 1, "maximum": 8}
    assert properties["hw_cpu_policy"]["enum"] == ["shared", "dedicated", "mixed"]
    assert properties["hw_vif_multiqueue_enabled"]["type"] == ["string", "boolean"]
    assert properties["img_built_by"]["readOnly"] is True
    version = properties["sw_database_postgresql_version"]["metadef"]
    assert version["object"] == "PostgreSQL" and version["required_by"] == ["Glimpse::Test::DBMS/PostgreSQL"]
    assert properties["hw_cpu_features"]["metadef"]["operators"] == ["<all-in>"]


def test_the_advertised_schema_accepts_every_value_the_server_accepts(api: Api) -> None:
    validator = jsonschema.Draft4Validator(api.http.get("/v2/schemas/image").json())
    accepted = {"hw_cpu_sockets": "02", "hw_cpu_cores": 16, "hw_vif_multiqueue_enabled": "Yes",
                "hw_boot_menu_timeout": 2.5, "hw_cpu_features": ["avx"], "hw_cpu_policy": "mixed"}
    assert list(validator.iter_errors(accepted)) == []
    api.create(**accepted)
    for refused in ({"hw_cpu_policy": "exclusive"}, {"hw_cpu_sockets": "two"}, {"hw_cpu_sockets": 0}):
        assert list(validator.iter_errors(refused)), refused
        rejected(api, refused)


def test_every_body_validates_against_the_schema_even_with_values_older_than_the_definition(
        api: Api, admin: Api) -> None:
    name = f"legacy_{uuid.uuid4().hex[:8]}"
    image = api.create(**{name: "not-a-number", "hw_cpu_cores": "8"})
    namespace = f"Glimpse::Test::Late{uuid.uuid4().hex[:8]}"
    created = admin.http.post("/v2/metadefs/namespaces", json={
        "namespace": namespace, "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image"}],
        "properties": {name: {"title": "Late", "type": "integer", "minimum": 1}}})
    assert created.status_code == 201, created.text
    try:
        schema = api.http.get("/v2/schemas/image").json()
        advertised = schema["properties"][name]
        assert advertised["metadef"]["type"] == "integer" and "pattern" not in advertised  # lax: old data
        jsonschema.validate(api.show(image["id"]), schema)
        listing = api.http.get("/v2/images", params={"owner": api.project}).json()
        jsonschema.validate(listing, api.http.get("/v2/schemas/images").json())
        assert rejected(api, {name: "still-not"})["rule"] == "type"  # new values are checked all the same
        assert api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "kept"}]).status_code == 200
    finally:
        assert admin.http.delete(f"/v2/metadefs/namespaces/{namespace}").status_code == 204


def test_catalog_changes_apply_from_the_next_request(api: Api, admin: Api) -> None:
    namespace = f"Glimpse::Test::Live{uuid.uuid4().hex[:8]}"
    name = f"live_{uuid.uuid4().hex[:8]}"
    assert admin.http.post("/v2/metadefs/namespaces", json={
        "namespace": namespace, "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image"}]}).status_code == 201
    try:
        assert api.create(**{name: "abc"})[name] == "abc"
        assert admin.http.post(f"/v2/metadefs/namespaces/{namespace}/properties",
                               json={"name": name, "title": "Live", "type": "integer"}).status_code == 201
        assert rejected(api, {name: "abc"})["rule"] == "type"
        assert admin.http.put(f"/v2/metadefs/namespaces/{namespace}/properties/{name}",
                              json={"name": name, "title": "Live", "type": "string", "enum": ["abc"]}).status_code == 200
        assert api.create(**{name: "abc"})[name] == "abc"
        assert admin.http.delete(f"/v2/metadefs/namespaces/{namespace}/resource_types/OS::Glance::Image").status_code == 204
        assert api.create(**{name: "xyz"})[name] == "xyz"  # no longer an image property
    finally:
        admin.http.delete(f"/v2/metadefs/namespaces/{namespace}")
