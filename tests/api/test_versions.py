"""Version discovery and minor-version path negotiation."""

from __future__ import annotations

import httpx

from tests.conftest import Api, Server


def test_root_answers_300_with_every_v2_minor_version(server: Server) -> None:
    response = httpx.get(server.url + "/")
    assert response.status_code == 300
    versions = response.json()["versions"]
    ids = {v["id"] for v in versions}
    assert {"v2.0", "v2.1", "v2.3", "v2.5", "v2.7"} <= ids
    assert [v["status"] for v in versions].count("CURRENT") == 1
    assert all(v["links"] == [{"rel": "self", "href": f"{server.url}/v2/"},
                              {"rel": "extensions", "href": f"{server.url}/v2/extensions"}] for v in versions)
    assert set(versions[0]) == {"id", "status", "links"}


def test_versions_path_answers_200(server: Server) -> None:
    response = httpx.get(server.url + "/versions")
    assert response.status_code == 200
    assert isinstance(response.json()["versions"], list)
    assert response.headers["content-type"] == "application/json"


def test_unknown_version_prefix_answers_300(server: Server) -> None:
    for path in ("/v1/images", "/v3", "/v2.99/images", "/images"):
        assert httpx.get(server.url + path).status_code == 300, path


def test_minor_version_prefix_reaches_v2(api: Api) -> None:
    image = api.create(name="minor")
    response = api.http.get(f"/v2.1/images/{image['id']}")
    assert response.status_code == 200
    assert response.json()["id"] == image["id"]


def test_every_response_carries_a_request_id(server: Server) -> None:
    for path in ("/", "/versions", "/v2/images", "/v2/nothing-here", "/healthcheck"):
        response = httpx.get(server.url + path)
        assert response.headers["x-openstack-request-id"].startswith("req-"), path


def test_inbound_request_id_is_adopted(server: Server) -> None:
    response = httpx.get(server.url + "/v2/images", headers={"X-Openstack-Request-ID": "abc-123"})
    assert response.headers["x-openstack-request-id"] == "req-abc-123"
    response = httpx.get(server.url + "/v2/images", headers={"X-Openstack-Request-ID": "req-xyz"})
    assert response.headers["x-openstack-request-id"] == "req-xyz"


def test_overlong_request_id_is_refused(server: Server) -> None:
    response = httpx.get(server.url + "/v2/images", headers={"X-Openstack-Request-ID": "x" * 65,
                                                             "Accept": "application/json"})
    assert response.status_code == 400
    assert "64" in response.json()["message"]


def test_public_endpoint_is_used_in_links(tmp_path) -> None:
    from tests.conftest import start_server

    srv = start_server(tmp_path / "pe", env={"GLIMPSE_PUBLIC_ENDPOINT": "https://images.example.com"})
    try:
        doc = httpx.get(srv.url + "/versions").json()
        assert doc["versions"][0]["links"][0]["href"] == "https://images.example.com/v2/"
        created = httpx.post(srv.url + "/v2/images", json={"name": "x"})
        assert created.headers["location"].startswith("https://images.example.com/v2/images/")
    finally:
        srv.stop()


def test_registry_and_streaming_endpoints_are_advertised(tmp_path) -> None:
    from tests.conftest import start_server

    srv = start_server(tmp_path / "split", env={"GLIMPSE_REGISTRY_ENDPOINT": "http://meta.example.com:9292",
                                                "GLIMPSE_STREAMING_ENDPOINT": "http://data.example.com:9393/"})
    try:
        for path in ("/versions", "/"):
            links = httpx.get(srv.url + path).json()["versions"][0]["links"]
            assert {"rel": "registry", "href": "http://meta.example.com:9292/v2/"} in links
            assert {"rel": "streaming", "href": "http://data.example.com:9393/v2/"} in links
            assert links[0] == {"rel": "self", "href": f"{srv.url}/v2/"}
    finally:
        srv.stop()
