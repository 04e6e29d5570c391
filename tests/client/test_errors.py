"""Error bodies in every shape the services send (JSON, HTML, plain text) become the same typed errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import glimpseclient
from glimpseclient import Client
from tests.client.proxy import Proxy
from tests.client.test_glance import GLANCE_URL, _reachable
from tests.conftest import Server

SERVICES = ["glimpse", "glance"]


@pytest.fixture(params=SERVICES)
def upstream(request: pytest.FixtureRequest, glimpse: Server) -> str:
    if request.param == "glance":
        if not _reachable(GLANCE_URL):
            pytest.skip(f"no Glance peer at {GLANCE_URL}")
        return GLANCE_URL
    return glimpse.url


@pytest.fixture
def through(upstream: str) -> Iterator[tuple[Proxy, Client]]:
    proxy = Proxy(upstream)
    with Client(proxy.url, project_id=uuid.uuid4().hex, retries=0) as client:
        yield proxy, client
    proxy.stop()


@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*", "text/plain"])
def test_a_not_found_reads_the_same_in_every_body_format(through: tuple[Proxy, Client], accept: str) -> None:
    proxy, client = through
    proxy.accept = accept
    with pytest.raises(glimpseclient.NotFound) as missing:
        client.images.get("no-such-image")
    error = missing.value
    assert error.status == 404
    assert "no-such-image" in error.message
    assert "<" not in error.message and "\n" not in error.message and not error.message.startswith("404")
    assert error.request_id and error.request_id.startswith("req-")
    assert error.method == "GET" and error.url.endswith("/v2/images/no-such-image")


@pytest.mark.parametrize("accept", ["application/json", "text/html", "text/plain"])
def test_a_bad_request_keeps_the_services_explanation(through: tuple[Proxy, Client], accept: str) -> None:
    proxy, client = through
    proxy.accept = accept
    with pytest.raises(glimpseclient.BadRequest) as bad:
        client.images.create(name="bad", min_ram=-5)
    assert bad.value.status == 400 and bad.value.message
    assert "min_ram" in bad.value.message or "-5" in bad.value.message


def test_an_unsupported_method_is_method_not_allowed(client: Client) -> None:
    with pytest.raises(glimpseclient.MethodNotAllowed):
        client.session.send("POST", "/v2/schemas/image").close()


def test_a_keystone_style_error_body_is_read(proxy: Proxy, project: str) -> None:
    proxy.reject_tokens.add("expired")
    with Client(proxy.url, token="expired", retries=0) as client:
        with pytest.raises(glimpseclient.Unauthorized, match="The token has expired"):
            client.images.get("x")
