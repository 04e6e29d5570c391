"""The console for keyboard and screen-reader users, and against names that try to reorder text:
every control has a label, the skip link and the forms work from the keyboard, and a right-to-left
override in an image name stays inside that name."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Api, Server
from tests.console.conftest import sign_in

UNLABELLED = """() => [...document.querySelectorAll('main input, main select, main textarea, main button, dialog input')]
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map((el) => el.outerHTML)"""


def project() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def image_of(console_server: Server) -> Any:
    def make(owner: str, **fields: Any) -> dict[str, Any]:
        api = Api(console_server.url, owner)
        image = api.create(**fields)
        assert api.upload(image["id"], b"\1" * 2048).status_code == 204
        return image
    return make


def test_every_control_of_every_page_has_a_label(page: Any, console_server: Server, image_of: Any) -> None:
    owner = project()
    image = image_of(owner, name="labelled", visibility="shared")
    page.goto("/console/")
    assert page.evaluate(UNLABELLED) == []  # the sign-in dialog
    sign_in(page, owner)
    for path, ready in ((f"#/images/{image['id']}", "form[aria-label='Copy to other stores']"),
                        ("#/images", "#images"), ("#/upload", "form[aria-label='Import from a URL']"),
                        ("#/shared", "section[aria-label='pending shares']")):
        page.goto(f"/console/{path}")
        page.wait_for_selector(ready)
        assert page.evaluate(UNLABELLED) == [], path


def test_the_console_is_used_from_the_keyboard(page: Any, console_server: Server, image_of: Any) -> None:
    owner = project()
    image_of(owner, name="kb-alpha")
    image_of(owner, name="kb-beta")
    page.goto("/console/")
    page.wait_for_selector("#si-project-id")
    page.focus("#si-project-id")
    page.keyboard.type(owner)
    page.keyboard.press("Enter")  # submits the sign-in form
    page.wait_for_selector("#images")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "view" and "#view" not in page.url
    page.focus("form.filters input[name=q]")
    page.keyboard.type("beta")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#images tbody tr').length === 1")
    assert page.evaluate("document.activeElement.id") == "view"  # a new page: focus at its start
    page.focus("form.filters button[type=submit]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Name"  # the first sortable column
    page.focus("#images tbody a")
    page.keyboard.press("Enter")
    page.wait_for_selector("#image-name:has-text('kb-beta')")
    page.keyboard.press("Shift+Tab")  # from the main region back into the header: the sign-out button
    assert page.evaluate("document.activeElement.id") == "sign-out"
    assert page.errors == []


def test_a_right_to_left_override_in_a_name_stays_inside_the_name(page: Any, console_server: Server,
                                                                   image_of: Any) -> None:
    owner = project()
    name = "\u202eexe.txt"
    image = image_of(owner, name=name)
    sign_in(page, owner)
    page.wait_for_selector("#images")
    link = page.locator("#images tbody a")
    assert link.inner_text() == name
    assert link.evaluate("a => getComputedStyle(a).unicodeBidi") == "isolate"
    assert link.evaluate("a => getComputedStyle(a.closest('td')).unicodeBidi") == "isolate"
    page.click("#images tbody a")
    page.wait_for_selector("#image-name")
    assert page.locator("#image-name").evaluate("h => getComputedStyle(h).unicodeBidi") == "isolate"
    page.click("button:has-text('Delete…')")  # dismissed by the fixture
    assert page.dialogs == [f'Delete the image "\u2068{name}\u2069"? This cannot be undone.']
    assert Api(console_server.url, owner).show(image["id"])["status"] == "active"
