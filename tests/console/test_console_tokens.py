"""The console on a node with standalone API tokens: signing in with a token, a refused token, and a
session that ends (a revoked token) asking to sign in again while keeping the page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_authentication import issue, manage
from tests.conftest import Server, start_server


@pytest.fixture(scope="module")
def token_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The console without the templates extension: its Templates section stays hidden.
    server = start_server(tmp_path_factory.mktemp("console-tokens"), env={"GLIMPSE_AUTH_STRATEGY": "tokens",
                                                                          "GLIMPSE_EXTENSIONS": '["console"]'})
    yield server
    server.stop()


@pytest.fixture
def tab(browser: Any, token_node: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=token_node.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_the_page_itself_needs_no_token_but_the_api_does(token_node: Server) -> None:
    import httpx

    assert httpx.get(f"{token_node.url}/console/").status_code == 200
    assert httpx.get(f"{token_node.url}/console/static/console.js").status_code == 200
    assert httpx.get(f"{token_node.url}/v2/images").status_code == 401


def test_a_wrong_token_is_refused_with_the_servers_message(tab: Any) -> None:
    tab.goto("/console/")
    tab.fill("#si-token", "gl1.0000000000000000.nonsense")
    tab.click("#sign-in-submit")
    error = tab.wait_for_selector("#sign-in-error .error")
    assert "HTTP 401" in error.inner_text() and "request req-" in error.inner_text()
    assert tab.evaluate("sessionStorage.getItem('glimpse.console.session')") is None


def test_a_revoked_token_asks_to_sign_in_again_and_the_change_goes_through_after(
        tab: Any, token_node: Server) -> None:
    project = uuid.uuid4().hex
    first = issue(token_node, "--project", project, "--roles", "member,reader")
    tab.goto("/console/")
    tab.fill("#si-token", first["token"])
    tab.click("#sign-in-submit")
    tab.wait_for_selector("#images")
    tab.goto("/console/#/upload")
    tab.fill("form[aria-label='Upload a file'] input[name=name]", "after-renewal")
    assert manage(token_node, "token", "revoke", first["id"]).returncode == 0
    tab.set_input_files("input[type=file]", files=[{"name": "a.raw", "mimeType": "application/octet-stream",
                                                     "buffer": b"\0" * 4096}])
    tab.click("form[aria-label='Upload a file'] button[type=submit]")
    tab.wait_for_selector("#sign-in[open]")
    assert "sign in again" in tab.inner_text("#sign-in-reason")
    second = issue(token_node, "--project", project, "--roles", "member,reader")
    tab.fill("#si-token", second["token"])
    tab.click("#sign-in-submit")
    tab.wait_for_selector("#upload-status:has-text('Done: the image is active')")
    assert tab.input_value("form[aria-label='Upload a file'] input[name=name]") == "after-renewal"
    assert tab.locator("#nav-templates").is_hidden()  # no templates extension on this node
