"""``/openapi.json``: the API described from the schemas the server validates with."""

from __future__ import annotations

import httpx

from tests.conftest import Api, Server


def test_the_description_is_served_without_credentials(server: Server) -> None:
    response = httpx.get(f"{server.url}/openapi.json")
    assert response.status_code == 200, response.text
    assert response.json()["openapi"] == "3.1.0"


def test_the_description_covers_every_route_group(server: Server) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    for path, method in [("/v2/images", "get"), ("/v2/images", "post"), ("/v2/images/{image_id}", "patch"),
                         ("/v2/images/{image_id}/file", "put"), ("/v2/images/{image_id}/members", "post"),
                         ("/v2/images/{image_id}/tags/{tag}", "put"), ("/v2/images/{image_id}/properties/{name}", "put"),
                         ("/v2/tasks", "post"), ("/v2/schemas/image", "get"), ("/v2/info/import", "get"),
                         ("/v2/metadefs/namespaces", "post"), ("/v2/metadefs/namespaces/{namespace}/objects", "post")]:
        assert method in paths.get(path, {}), (path, method)


def test_request_bodies_come_from_the_served_schemas(server: Server, api: Api) -> None:
    description = httpx.get(f"{server.url}/openapi.json").json()
    create = description["paths"]["/v2/images"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    served = api.http.get("/v2/schemas/image").json()
    assert create["properties"]["min_ram"] == served["properties"]["min_ram"]
    assert create["properties"]["disk_format"] == served["properties"]["disk_format"]
    assert "status" not in create["properties"]  # read-only attributes cannot be sent
    namespace = description["paths"]["/v2/metadefs/namespaces"]["post"]["requestBody"]["content"]
    served_namespace = api.http.get("/v2/schemas/metadefs/namespace").json()
    assert set(namespace["application/json"]["schema"]["properties"]) == set(served_namespace["properties"])
    assert "$ref" not in str(namespace)  # definitions are inlined
