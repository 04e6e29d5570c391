"""The web console in a real browser (headless Chromium) against a real server: sign in, list and
filter, upload with progress, edit typed properties, share and accept, render a template, and
hostile image names that must stay text."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Server
from tests.console.conftest import sign_in

HOSTILE = ['<script>window.__pwned = 1</script>', '"><img src=x onerror="window.__pwned=2">',
           "it's \"quoted\" & <b>bold</b>", "\u202eevil\u202c.exe", "<svg onload=alert(1)>"]


def project() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def test_signing_in_lists_the_projects_images_and_a_filter_narrows_the_list(page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    api.create(name="alpha", disk_format="qcow2")
    api.create(name="beta", disk_format="raw")
    sign_in(page, owner)
    page.wait_for_selector("#images")
    assert sorted(page.locator("#images tbody td:first-child").all_inner_texts()) == ["alpha", "beta"]
    page.select_option("form.filters select[name=disk_format]", "qcow2")
    page.click("form.filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#images tbody tr').length === 1")
    assert page.locator("#images tbody td:first-child").all_inner_texts() == ["alpha"]
    assert "disk_format=qcow2" in page.url


def test_a_hostile_image_name_is_shown_as_text_and_never_runs(page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    images = [api.create(name=name, tags=[name[:40]]) for name in HOSTILE]
    sign_in(page, owner)
    page.wait_for_selector("#images")
    assert sorted(page.locator("#images tbody td:first-child").all_inner_texts()) == sorted(HOSTILE)
    page.goto(f"/console/#/images/{images[1]['id']}")
    page.wait_for_selector("#image-name")
    assert page.inner_text("#image-name") == HOSTILE[1]
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 0 and page.locator("svg").count() == 0
    assert page.dialogs == [] and page.errors == []


def test_an_upload_shows_progress_to_100_percent_and_the_image_becomes_active(
        page: Any, console_server: Server, tmp_path: Path) -> None:
    owner = project()
    data = tmp_path / "disk.raw"
    data.write_bytes(bytes(range(256)) * (8 * 1024 * 4))  # 8 MiB
    sign_in(page, owner)
    page.goto("/console/#/upload")
    page.fill("form[aria-label='Upload a file'] input[name=name]", "uploaded")
    page.set_input_files("input[type=file]", str(data))
    page.click("form[aria-label='Upload a file'] button[type=submit]")
    page.wait_for_selector("#upload-status:has-text('Done'), form[aria-label='Upload a file'] .error", timeout=60_000)
    assert page.inner_text("#upload-status").startswith("Done: the image is active"), \
        page.inner_text("form[aria-label='Upload a file']")
    assert page.eval_on_selector("#upload-progress", "bar => bar.value") == 100
    [image] = Api(console_server.url, owner).http.get("/v2/images", params={"name": "uploaded"}).json()["images"]
    assert image["status"] == "active" and image["size"] == data.stat().st_size
    assert image["stores"] == "fast"


def test_an_upload_goes_to_the_store_chosen_when_the_node_has_several(
        page: Any, console_server: Server, tmp_path: Path) -> None:
    owner = project()
    data = tmp_path / "small.raw"
    data.write_bytes(b"\1" * 100_000)
    sign_in(page, owner)
    page.goto("/console/#/upload")
    form = "form[aria-label='Upload a file']"
    page.wait_for_selector(f"{form} select[name=stores]")
    assert page.locator(f"{form} select[name=stores] option").all_inner_texts() == ["fast — fast disks",
                                                                                     "slow — slow disks"]
    page.fill(f"{form} input[name=name]", "to-slow")
    page.select_option(f"{form} select[name=stores]", "slow")
    page.set_input_files("input[type=file]", str(data))
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#upload-status:has-text('Done: the image is active')")
    [image] = Api(console_server.url, owner).http.get("/v2/images", params={"name": "to-slow"}).json()["images"]
    assert image["stores"] == "slow"


def test_a_typed_property_is_checked_as_you_type_and_saved_with_if_match(page: Any, console_server: Server) -> None:
    admin, owner = Api(console_server.url), project()
    prefix = f"c{uuid.uuid4().hex[:6]}_"
    assert admin.http.post("/v2/metadefs/namespaces", json={
        "namespace": f"Console::{prefix}", "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": prefix}],
        "properties": {"cores": {"title": "Cores", "description": "vCPU cores", "type": "integer",
                                 "minimum": 1, "maximum": 8}}}).status_code == 201
    image = Api(console_server.url, owner).create(name="typed")
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    field = page.locator(f"input[name={prefix}cores]")
    assert page.locator(f".field:has(input[name={prefix}cores]) .bounds").inner_text() == "A whole number from 1 to 8."
    field.fill("12")
    assert page.inner_text(f"#hint-{prefix}cores") == "Must be at most 8."
    assert field.get_attribute("aria-invalid") == "true"
    page.click("form[aria-label=Properties] button[type=submit]")
    page.wait_for_selector("form[aria-label=Properties] .error")
    field.fill("4")
    assert page.inner_text(f"#hint-{prefix}cores") == ""
    page.click("form[aria-label=Properties] button[type=submit]")
    page.wait_for_function(f"() => document.querySelector('input[name={prefix}cores]') "
                           f"&& document.querySelector('input[name={prefix}cores]').value === '4' "
                           "&& !document.querySelector('form[aria-label=Properties] .error')")
    assert Api(console_server.url, owner).show(image["id"])[f"{prefix}cores"] in (4, "4")


def test_a_concurrent_change_is_reported_and_not_overwritten(page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    image = api.create(name="before")
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.wait_for_selector("#image-name")
    assert api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "theirs"}]).status_code == 200
    page.fill("form[aria-label=Settings] input[name=name]", "mine")
    page.click("form[aria-label=Settings] button[type=submit]")
    error = page.wait_for_selector("form[aria-label=Settings] .error")
    assert "Someone changed this image" in error.inner_text() and "HTTP 412" in error.inner_text()
    assert "request req-" in error.inner_text()
    assert api.show(image["id"])["name"] == "theirs"


def test_an_api_error_is_shown_next_to_the_form_with_its_request_id(page: Any, console_server: Server) -> None:
    owner = project()
    image = Api(console_server.url, owner).create(name="tags")
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.fill("form[aria-label=Settings] input[name=tags]", "x" * 300)
    page.click("form[aria-label=Settings] button[type=submit]")
    error = page.wait_for_selector("form[aria-label=Settings] .error")
    assert "HTTP 400" in error.inner_text() and "request req-" in error.inner_text()
    assert page.errors == []


def test_an_image_shared_in_the_console_is_accepted_by_the_other_project(page: Any, console_server: Server) -> None:
    owner, guest = project(), project()
    image = Api(console_server.url, owner).create(name="to-share", visibility="shared")
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.fill("input[name=member]", guest)
    page.click("form:has(input[name=member]) button[type=submit]")
    page.wait_for_selector(f"#members li:has-text('{guest}'):has-text('pending')")
    page.click("#sign-out")
    page.fill("#si-project-id", guest)
    page.click("#sign-in-submit")
    page.goto("/console/#/shared")
    page.click("button:has-text('Accept'):has-text('to-share')")
    page.wait_for_selector("section[aria-label='accepted shares'] a:has-text('to-share')")
    member = Api(console_server.url, guest).http.get(f"/v2/images/{image['id']}/members/{guest}").json()
    assert member["status"] == "accepted"


def test_a_template_form_is_generated_from_its_schema_and_renders_a_launch_body(
        page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    image = api.create(name="base")
    assert api.upload(image["id"], b"\0" * 1024).status_code == 204
    template = api.http.post("/v2/templates", json={
        "name": "web", "version": "1.0.0", "image_id": image["id"],
        "parameters": {"host": {"type": "string", "format": "hostname", "title": "Host name", "required": True},
                       "workers": {"type": "integer", "minimum": 1, "maximum": 16, "default": 2}},
        "user_data": "#cloud-config\nhostname: {{ host }}\n"}).json()
    sign_in(page, owner)
    page.wait_for_selector("#nav-templates:not([hidden])")  # offered: the node has the templates extension
    page.click("#nav-templates")
    page.click("#templates a:has-text('web')")
    page.fill("input[name=workers]", "99")
    page.click("form[aria-label=Render] button[type=submit]")
    assert page.locator("form[aria-label=Render] .hint:has-text('Must be at most 16.')").count() == 1
    page.fill("input[name=workers]", "4")
    page.fill("input[name=host]", "web1")
    page.click("form[aria-label=Render] button[type=submit]")
    page.wait_for_selector("#render-output:has-text('user_data')")
    assert template["id"] in page.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("form[aria-label=Render] button:has-text('Copy')")
    page.wait_for_selector("form[aria-label=Render] .note:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == page.inner_text("#render-output")
    with page.expect_download() as download:
        page.click("form[aria-label=Render] a:has-text('Download')")
    assert download.value.suggested_filename == "web-launch.json"
    assert Path(download.value.path()).read_text() == page.inner_text("#render-output")


@pytest.mark.parametrize("path", ["/console/#/images", "/console/#/upload", "/console/#/shared", "/console/#/templates"])
def test_every_page_loads_without_script_errors_under_the_strict_policy(page: Any, path: str) -> None:
    sign_in(page, project())
    page.goto(path)
    page.wait_for_selector("main h2")
    assert page.errors == []


def test_a_refused_upload_says_which_state_the_image_was_left_in(page: Any, console_server: Server,
                                                                   tmp_path: Path) -> None:
    owner = project()
    data = tmp_path / "not.qcow2"
    data.write_bytes(b"\0" * 65536)  # zeros are no qcow2: the format check refuses them
    sign_in(page, owner)
    page.goto("/console/#/upload")
    page.fill("form[aria-label='Upload a file'] input[name=name]", "bad-format")
    page.select_option("form[aria-label='Upload a file'] select[name=disk_format]", "qcow2")
    page.set_input_files("input[type=file]", str(data))
    page.click("form[aria-label='Upload a file'] button[type=submit]")
    error = page.wait_for_selector("form[aria-label='Upload a file'] .error")
    [image] = Api(console_server.url, owner).http.get("/v2/images", params={"name": "bad-format"}).json()["images"]
    assert f"with status {image['status']}" in error.inner_text() and "HTTP 4" in error.inner_text()


def test_an_image_is_deactivated_reactivated_and_deleted_after_confirmation(page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    image = api.create(name="lifecycle")
    assert api.upload(image["id"], b"\0" * 4096).status_code == 204
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.click("button:has-text('Deactivate')")
    page.wait_for_selector("button:has-text('Reactivate')")
    assert api.show(image["id"])["status"] == "deactivated"
    page.click("button:has-text('Reactivate')")
    page.wait_for_selector("button:has-text('Deactivate')")
    page.click("button:has-text('Delete…')")  # the page fixture dismisses the confirmation
    assert page.dialogs and "lifecycle" in page.dialogs[-1]
    assert api.show(image["id"])["status"] == "active"
    page.accept_dialogs = True
    page.click("button:has-text('Delete…')")
    page.wait_for_selector("#images")
    assert api.http.get(f"/v2/images/{image['id']}").status_code == 404


@pytest.mark.parametrize(("path", "outcome"), [("/300000", "Image active; task success"), ("/missing", "task failure")])
def test_an_import_by_url_shows_the_tasks_progress_to_its_end(page: Any, console_server: Server, files: str,
                                                              path: str, outcome: str) -> None:
    owner = project()
    sign_in(page, owner)
    page.goto("/console/#/upload")
    form = "form[aria-label='Import from a URL']"
    page.fill(f"{form} input[name=name]", "from-url")
    page.select_option(f"{form} select[name=stores]", ["fast", "slow"])
    page.fill(f"{form} input[name=uri]", files + path)
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f"#import-status:has-text('{outcome}')", timeout=30_000)
    [image] = Api(console_server.url, owner).http.get("/v2/images", params={"name": "from-url"}).json()["images"]
    if outcome.startswith("Image active"):
        assert image["size"] == 300000 and sorted(image["stores"].split(",")) == ["fast", "slow"]
