"""Schemas, /v2/info/* and the health check."""

from __future__ import annotations

import jsonschema
import pytest

from tests.conftest import Api


def test_image_schema_shape(api: Api) -> None:
    schema = api.http.get("/v2/schemas/image").json()
    assert schema["name"] == "image"
    assert schema["additionalProperties"] == {"type": "string"}
    props = schema["properties"]
    assert props["min_ram"]["type"] == "integer"
    assert props["visibility"]["enum"] == ["community", "public", "private", "shared"]
    assert None in props["disk_format"]["enum"] and "qcow2" in props["disk_format"]["enum"]
    assert props["os_distro"]["is_base"] is False
    assert "is_base" not in props["name"]
    assert {link["rel"] for link in schema["links"]} == {"self", "enclosure", "describedby"}


def test_every_image_body_validates_against_the_served_schema(api: Api) -> None:
    schema = api.http.get("/v2/schemas/image").json()
    image = api.create(name="valid", os_distro="x", kernel_id=None, tags=["a"])
    jsonschema.validate(image, schema)
    api.upload(image["id"], b"data")
    jsonschema.validate(api.show(image["id"]), schema)
    listing = api.http.get("/v2/images", params={"owner": api.project})
    jsonschema.validate(listing.json(), api.http.get("/v2/schemas/images").json())


def test_images_schema_links(api: Api) -> None:
    schema = api.http.get("/v2/schemas/images").json()
    assert schema["name"] == "images"
    assert schema["properties"]["images"]["items"]["name"] == "image"
    assert [link["rel"] for link in schema["links"]] == ["first", "next", "describedby"]


def test_member_schemas(api: Api) -> None:
    member = api.http.get("/v2/schemas/member").json()
    assert member["name"] == "member"
    assert member["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    members = api.http.get("/v2/schemas/members").json()
    assert members["properties"]["members"]["items"] == member


@pytest.mark.parametrize("path", ["/v2/schemas/image", "/v2/schemas/images", "/v2/schemas/member",
                                  "/v2/schemas/members"])
def test_schemas_are_get_only(api: Api, path: str) -> None:
    response = api.http.post(path, json={})
    assert response.status_code == 405 and response.headers["allow"] == "GET"


def test_schema_validates_what_the_server_accepts(api: Api) -> None:
    schema = api.http.get("/v2/schemas/image").json()
    validator = jsonschema.Draft4Validator(schema)
    for body in ({"min_ram": -1}, {"visibility": "x"}, {"custom": 1}):
        assert list(validator.iter_errors(body))
        assert api.http.post("/v2/images", json=body).status_code == 400


def test_info_import_reports_the_default_methods(api: Api) -> None:
    body = api.http.get("/v2/info/import").json()
    assert body == {"import-methods": {"description": "Import methods available.", "type": "array",
                                       "value": ["glance-direct", "web-download"]}}


def test_info_stores(api: Api, admin: Api) -> None:
    assert api.http.get("/v2/info/stores").json() == {"stores": [{"id": "file", "default": "true"}]}
    assert api.http.get("/v2/info/stores/detail").status_code == 403
    detail = admin.http.get("/v2/info/stores/detail").json()["stores"][0]
    assert detail["id"] == "file" and detail["type"] == "filesystem" and detail["weight"] == 0
    assert detail["properties"]["path"].endswith("images")


def test_info_usage_reports_usage_and_unlimited_defaults(api: Api) -> None:
    image = api.create()
    api.upload(image["id"], b"x" * (3 * 1024 * 1024))
    api.create()
    usage = api.http.get("/v2/info/usage").json()["usage"]
    assert usage == {
        "image_count_total": {"limit": -1, "usage": 2},
        "image_size_total": {"limit": -1, "usage": 3},
        "image_stage_total": {"limit": -1, "usage": 0},
        "image_count_uploading": {"limit": -1, "usage": 0},
    }


def test_healthcheck(api: Api) -> None:
    response = api.http.get("/healthcheck", headers={"Accept": "text/plain"})
    assert response.status_code == 200 and response.text == "OK"
    assert api.http.get("/healthcheck").json() == {"status": "ok"}  # public: names no part
    detail = api.http.get("/healthcheck?detail").json()  # the tests call from the loopback address
    assert detail["status"] == "ok"
    assert detail["checks"] == {"database": {"ok": True, "detail": "ok"}, "store:file": {"ok": True, "detail": "ok"},
                                "store:os_glance_staging_store": {"ok": True, "detail": "ok"}}


def test_bodies_with_typed_properties_validate_against_the_served_schemas(api: Api, catalog: object) -> None:
    schema = api.http.get("/v2/schemas/image").json()
    assert schema["properties"]["hw_cpu_sockets"]["metadef"]["type"] == "integer"
    image = api.create(name="typed", hw_cpu_sockets=2, hw_vif_multiqueue_enabled="yes", hw_cpu_features=["aes"],
                       hw_boot_menu_timeout="1.25", hw_cpu_policy="shared", kernel_id=None)
    jsonschema.validate(image, schema)
    patched = api.patch(image["id"], [{"op": "add", "path": "/hw_cpu_cores", "value": "07"}]).json()
    jsonschema.validate(patched, schema)
    assert patched["hw_cpu_cores"] == "7"
    listing = api.http.get("/v2/images", params={"owner": api.project})
    jsonschema.validate(listing.json(), api.http.get("/v2/schemas/images").json())
    # what glanceclient's validation (warlock) does with a model: each typed property alone
    for name in ("hw_cpu_sockets", "hw_vif_multiqueue_enabled", "hw_cpu_features", "hw_boot_menu_timeout"):
        jsonschema.validate({name: image[name]}, schema)
