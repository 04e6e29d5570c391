"""Editing an image in the console, in a real browser: editors generated from the schema and the
catalog (a boolean as a switch, an enum as a select, a pattern checked as you type), the settings
(visibility, protected, hidden, tags), an action refused by the API, and every field on the page."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api, Server
from tests.console.conftest import sign_in

PROPERTIES = "form[aria-label=Properties]"
SETTINGS = "form[aria-label=Settings]"


def project() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def saved(page: Any) -> None:
    """Save the properties and wait until the page is drawn again from the API."""
    page.eval_on_selector(PROPERTIES, "form => { form.dataset.old = '1'; }")
    page.click(f"{PROPERTIES} button[type=submit]")
    page.wait_for_selector(f"{PROPERTIES}:not([data-old])")


def test_a_boolean_is_a_switch_an_enum_a_select_and_a_pattern_is_checked_as_you_type(
        page: Any, console_server: Server) -> None:
    admin, owner = Api(console_server.url), project()
    prefix = f"e{uuid.uuid4().hex[:6]}_"
    assert admin.http.post("/v2/metadefs/namespaces", json={
        "namespace": f"Console::{prefix}", "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": prefix}],
        "properties": {
            "secure": {"title": "Secure boot", "description": "Boot with UEFI secure boot", "type": "boolean"},
            "bus": {"title": "Disk bus", "type": "string", "enum": ["virtio", "scsi", "ide"]},
            "serial": {"title": "Serial", "type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}}}).status_code == 201
    api = Api(console_server.url, owner)
    image = api.create(name="typed")
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    switch = page.locator(f"input[name={prefix}secure]")
    assert switch.get_attribute("type") == "checkbox" and switch.get_attribute("role") == "switch"
    assert switch.evaluate("box => box.indeterminate") is True  # not set: neither true nor false
    assert page.locator(f"label[for='{switch.get_attribute('id')}']").inner_text() == f"Secure boot ({prefix}secure)"
    assert page.locator(f"{PROPERTIES} .desc:has-text('Boot with UEFI secure boot')").count() == 1
    assert page.locator(f"select[name={prefix}bus] option").all_inner_texts() == ["(not set)", "virtio", "scsi", "ide"]
    serial = page.locator(f"input[name={prefix}serial]")
    serial.fill("abc-12")
    assert page.inner_text(f"#hint-{prefix}serial").startswith("Must match the pattern")
    serial.fill("ABC-1234")
    assert page.inner_text(f"#hint-{prefix}serial") == ""
    switch.press("Space")  # a switch is toggled from the keyboard
    page.select_option(f"select[name={prefix}bus]", "scsi")
    saved(page)
    shown = api.show(image["id"])
    assert shown[f"{prefix}secure"] in (True, "true") and shown[f"{prefix}bus"] == "scsi"
    assert shown[f"{prefix}serial"] == "ABC-1234"
    assert page.locator(f"input[name={prefix}secure]").is_checked()
    page.click(f"button[aria-label='Clear {prefix}secure (not set)']")
    saved(page)
    assert page.locator(f"input[name={prefix}secure]").evaluate("box => box.indeterminate") is True
    assert f"{prefix}secure" not in api.show(image["id"])
    assert page.errors == []


def test_visibility_protected_hidden_and_tags_are_saved_and_a_refused_delete_is_explained(
        page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    image = api.create(name="settings")
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.select_option(f"{SETTINGS} select[name=visibility]", "shared")
    page.check(f"{SETTINGS} input[name=protected]")
    page.check(f"{SETTINGS} input[name=os_hidden]")
    page.fill(f"{SETTINGS} input[name=tags]", "gold, <b>x</b>")
    page.click(f"{SETTINGS} button[type=submit]")
    page.wait_for_selector(".tags .tag:has-text('gold')")
    shown = api.show(image["id"])
    assert shown["visibility"] == "shared" and shown["protected"] is True and shown["os_hidden"] is True
    assert sorted(shown["tags"]) == ["<b>x</b>", "gold"]
    # shared: members can be added now (the panel comes after the members list is fetched, so wait for it)
    page.wait_for_selector("section[aria-label=Members] form")
    assert page.locator("section[aria-label=Members]").count() == 1
    assert page.locator("section[aria-label=Members] .note").count() == 0  # no "set visibility to shared"
    page.accept_dialogs = True
    page.click("button:has-text('Delete…')")
    error = page.wait_for_selector("section[aria-label=Actions] .error")
    assert "HTTP 403" in error.inner_text() and "request req-" in error.inner_text()
    assert api.show(image["id"])["status"] == "queued"


def test_the_detail_page_shows_every_field_hashes_and_sizes(page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    image = api.create(name="fields", min_disk=3, min_ram=512)
    assert api.upload(image["id"], b"\5" * 5000).status_code == 204
    shown = api.show(image["id"])
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.wait_for_selector("dl.fields")
    terms = page.locator("dl.fields dt").all_inner_texts()
    values = dict(zip(terms, page.locator("dl.fields dd").all_inner_texts(), strict=True))
    missing = [key for key in shown if key not in values and key != "tags"]
    assert missing == [], missing
    assert values["os_hash_value"] == shown["os_hash_value"] and values["checksum"] == shown["checksum"]
    assert values["size"] == "4.88 KiB (5000 bytes)" and values["min_ram"] == "512"
    assert values["stores"] == "fast"
