"""Error responses: status codes, negotiated bodies, and never a 500 for bad input."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Api, Server, on_both_server_paths

#: Every test here runs with the server's fast paths and again on plain uvicorn + Starlette.
server = on_both_server_paths()


def test_json_error_body_for_json_clients(api: Api) -> None:
    response = api.http.get(f"/v2/images/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == "404 Not Found"
    assert body["title"] == "Not Found"
    assert body["status"] == 404
    assert "No image found" in body["message"]
    assert body["request_id"] == response.headers["x-openstack-request-id"]


def test_html_error_body_for_any_accept(server: Server) -> None:
    response = httpx.get(f"{server.url}/v2/images/{uuid.uuid4()}", headers={"Accept": "*/*"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>404 Not Found</h1>" in response.text
    assert "No image found" in response.text


def test_json_with_wildcard_still_gets_html_as_webob_does(server: Server) -> None:
    response = httpx.get(f"{server.url}/v2/images/{uuid.uuid4()}",
                         headers={"Accept": "application/json, */*"})
    assert response.headers["content-type"].startswith("text/html")


def test_plain_error_body_for_text_plain(server: Server) -> None:
    response = httpx.get(f"{server.url}/v2/images/{uuid.uuid4()}", headers={"Accept": "text/plain"})
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("404 Not Found\n\n")
    assert "No image found" in response.text


def test_json_error_body_for_empty_accept(server: Server) -> None:
    """openstacksdk sends ``Accept:`` on updates and uploads and reads only JSON or HTML errors."""
    response = httpx.get(f"{server.url}/v2/images/{uuid.uuid4()}", headers={"Accept": ""})
    assert response.headers["content-type"] == "application/json"
    assert "No image found" in response.json()["message"]


def test_html_error_keeps_quotes_readable(server: Server) -> None:
    response = httpx.post(f"{server.url}/v2/images", json={"status": "active"}, headers={"Accept": "*/*"})
    assert response.status_code == 403
    assert "Attribute 'status' is read-only." in response.text


def test_unknown_path_under_v2_is_404(api: Api) -> None:
    response = api.http.get("/v2/nothing-here")
    assert response.status_code == 404
    assert "/v2/nothing-here" in response.json()["message"]


def test_wrong_method_is_405_with_allow(api: Api) -> None:
    response = api.http.put("/v2/images")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    image = api.create()
    response = api.http.post(f"/v2/images/{image['id']}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH, DELETE"


def test_malformed_json_is_400(api: Api) -> None:
    response = api.http.post("/v2/images", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_json_scalar_where_object_required_is_400(api: Api) -> None:
    response = api.http.post("/v2/images", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "JSON object" in response.json()["message"]


def test_undecodable_body_is_400(api: Api) -> None:
    response = api.http.post("/v2/images", content=b'{"name": "\xff\xfe"}',
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "UTF-8" in response.json()["message"]


def test_empty_create_body_is_400(api: Api) -> None:
    response = api.http.post("/v2/images", content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_wrong_content_type_for_create_is_415(api: Api) -> None:
    response = api.http.post("/v2/images", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/json" in response.json()["message"]


def test_oversized_json_body_is_413(api: Api) -> None:
    big = {"name": "x", "description": "y" * (2 * 1024 * 1024)}
    response = api.http.post("/v2/images", json=big)
    assert response.status_code == 413
    assert "limit" in response.json()["message"]


def test_oversized_chunked_json_body_is_413(api: Api) -> None:
    def body():
        yield b'{"name": "'
        for _ in range(40):
            yield b"z" * 65536
        yield b'"}'

    response = api.http.post("/v2/images", content=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1" * 40, "00000000-0000-0000-0000-00000000000g"])
def test_bad_uuid_is_404(api: Api, bad_id: str) -> None:
    assert api.http.get(f"/v2/images/{bad_id}").status_code == 404
    assert api.http.delete(f"/v2/images/{bad_id}").status_code == 404
    assert api.http.get(f"/v2/images/{bad_id}/file").status_code == 404


def test_body_on_bodiless_route_is_400(api: Api) -> None:
    image = api.create()
    response = api.http.request("GET", f"/v2/images/{image['id']}", content=b'{"a": 1}')
    assert response.status_code == 400
    assert "body is not expected" in response.json()["message"]
    response = api.http.request("DELETE", f"/v2/images/{image['id']}", content=b"x")
    assert response.status_code == 400
    response = api.http.post(f"/v2/images/{image['id']}/actions/deactivate", content=b"x")
    assert response.status_code == 400
    response = api.http.put(f"/v2/images/{image['id']}/tags/t", content=b"x")
    assert response.status_code == 400
    assert api.show(image["id"])["status"] == "queued"
    assert api.show(image["id"])["tags"] == []


def test_chunked_body_on_bodiless_route_is_400(api: Api) -> None:
    image = api.create()
    response = api.http.request("DELETE", f"/v2/images/{image['id']}", content=iter([b"chunk"]))
    assert response.status_code == 400
    api.show(image["id"])
