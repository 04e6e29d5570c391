"""Fixtures for the web console: one headless Chromium per session (Debian's ``chromium``, driven by
Playwright) and a server with the console, templates and web-download import enabled.

Without ``chromium`` or ``playwright`` the browser tests skip, saying so; with
``GLIMPSE_TEST_REQUIRE_BROWSER=1`` (CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, start_server

CHROMIUM = os.environ.get("GLIMPSE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; see .ci/chromium.sh)"
    return None


@pytest.fixture(scope="package")  # Playwright's sync API runs an event loop: gone before other packages' tests
def browser() -> Iterator[Any]:
    reason = _missing_browser()
    if reason:
        if os.environ.get("GLIMPSE_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GLIMPSE_TEST_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A node of role all with its default extensions (templates and the console), image import and two
    filesystem stores (``fast``, the default, and ``slow``)."""
    data_dir = tmp_path_factory.mktemp("console")
    stores = {name: {"driver": "filesystem", "path": str(data_dir / name), "description": f"{name} disks"}
              for name in ("fast", "slow")}
    srv = start_server(data_dir, workers=2, env={"GLIMPSE_EXTENSIONS": '["templates", "console", "image-import"]',
                                                 "GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_DEFAULT_STORE": "fast",
                                                 # web-download from the tests' loopback file server
                                                 "GLIMPSE_WEB_DOWNLOAD_ALLOWED_PORTS": "[]",
                                                 "GLIMPSE_WEB_DOWNLOAD_ALLOWED_NETWORKS": '["127.0.0.1/32"]'})
    yield srv
    srv.stop()


@pytest.fixture
def page(browser: Any, console_server: Server) -> Iterator[Any]:
    """A fresh browser context (its own sessionStorage and cookies) on the console page, recording
    dialogs and page errors."""
    context = browser.new_context(base_url=console_server.url)
    tab = context.new_page()
    tab.dialogs = []
    tab.errors = []
    tab.accept_dialogs = False  # confirmations are dismissed unless a test says otherwise

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)
        if tab.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def sign_in(page: Any, project: str, roles: str = "member,reader") -> None:
    """Open the console and sign in with the development identity (the server runs noauth)."""
    page.goto("/console/")
    page.fill("#si-project-id", project)
    page.fill("#si-roles", roles)
    page.click("#sign-in-submit")
    page.wait_for_selector("#who:has-text('Signed in')")
