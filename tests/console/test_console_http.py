"""The console's responses over plain HTTP: security headers, the CSRF cookie and check, the files
it serves (and those it does not), and which nodes offer it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_serving import pki, tls_server, trusting  # noqa: F401 - fixtures of a TLS node
from tests.conftest import Server, start_server


def test_the_page_has_a_strict_policy_and_no_inline_script_or_style(console_server: Server) -> None:
    response = httpx.get(f"{console_server.url}/console/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), "inline script"
    assert "<style" not in response.text and " style=" not in response.text and " on" not in response.text.lower()


def test_the_csrf_cookie_is_httponly_strict_and_matches_the_page(console_server: Server) -> None:
    response = httpx.get(f"{console_server.url}/console/")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    token = response.cookies["glimpse_console_csrf"]
    assert f'name="glimpse-csrf-token" content="{token}"' in response.text
    assert httpx.get(f"{console_server.url}/console/").cookies["glimpse_console_csrf"] != token


def test_the_sign_in_exchange_refuses_a_request_without_the_csrf_token(console_server: Server) -> None:
    with httpx.Client(base_url=console_server.url) as client:
        token = client.get("/console/").cookies["glimpse_console_csrf"]
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": token, "Origin": "https://evil.example"}):
            refused = client.post("/console/sign-in", json={"username": "u"}, headers={"Accept": "application/json",
                                                                                        **headers})
            assert refused.status_code == 403, headers
            assert "CSRF" in refused.json()["message"] or "Cross-origin" in refused.json()["message"]
        # With the token, a node that is not on Keystone says how to sign in instead.
        answered = client.post("/console/sign-in", json={"username": "u"}, headers={"X-CSRF-Token": token,
                                                                                     "Accept": "application/json"})
        assert answered.status_code == 400 and "keystone" in answered.json()["message"]


def test_static_files_are_served_with_their_types_and_nothing_else_is(console_server: Server) -> None:
    js = httpx.get(f"{console_server.url}/console/static/console.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["content-security-policy"]
    assert httpx.get(f"{console_server.url}/console/static/console.css").headers["content-type"].startswith("text/css")
    for name in ("index.html", "..%2F__init__.py", "..%2F..%2Fsettings.py", "%2Fetc%2Fpasswd", "nope.js"):
        assert httpx.get(f"{console_server.url}/console/static/{name}").status_code == 404, name
    assert httpx.get(f"{console_server.url}/console/static/../plugin.py").status_code == 404


def test_the_console_redirects_to_its_slash_and_refuses_other_methods(console_server: Server) -> None:
    response = httpx.get(f"{console_server.url}/console")
    assert response.status_code == 308 and response.headers["location"] == "/console/"
    assert httpx.post(f"{console_server.url}/console/").status_code == 405


def test_no_static_file_builds_html_from_data() -> None:
    from glimpse.console.pages import STATIC

    for path in STATIC.glob("*.js"):
        text = path.read_text()
        assert "innerHTML" not in text and "outerHTML" not in text and "insertAdjacentHTML" not in text, path
        assert "document.write" not in text and "eval(" not in text, path


@pytest.fixture(scope="module")
def registry_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("registry"), env={
        "GLIMPSE_ROLE": "registry", "GLIMPSE_STREAMING_ENDPOINT": "http://127.0.0.1:9"})
    yield srv
    srv.stop()


def test_a_registry_only_node_offers_no_console_unless_enabled(registry_node: Server) -> None:
    assert httpx.get(f"{registry_node.url}/console/").status_code == 404
    aliases = [e["alias"] for e in httpx.get(f"{registry_node.url}/v2/extensions").json()["extensions"]]
    assert "console" not in aliases


def test_the_default_node_offers_the_console(server: Server) -> None:
    aliases = [e["alias"] for e in httpx.get(f"{server.url}/v2/extensions").json()["extensions"]]
    assert "console" in aliases
    assert httpx.get(f"{server.url}/console/").status_code == 200


def test_over_tls_the_csrf_cookie_is_also_secure(tls_server: Server, pki: dict[str, Path]) -> None:  # noqa: F811
    response = httpx.get(f"{tls_server.url}/console/", verify=trusting(pki))
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
