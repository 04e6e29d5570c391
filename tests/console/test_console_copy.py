"""Copying an image to the node's other stores from the console (the copy-image import), on the
console's node with two filesystem stores (``fast``, the default, and ``slow``)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api, Server
from tests.console.conftest import sign_in


def test_an_active_image_is_copied_to_another_store_following_the_task(page: Any, console_server: Server) -> None:
    owner = f"p-{uuid.uuid4().hex[:10]}"
    api = Api(console_server.url, owner)
    image = api.create(name="to-copy")
    assert api.upload(image["id"], b"\3" * (2 * 1024 * 1024)).status_code == 204
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    form = "form[aria-label='Copy to other stores']"
    page.wait_for_selector(form)
    assert page.inner_text("#image-stores") == "In: fast"
    assert page.locator(f"{form} input[name=copy-store]").evaluate_all("boxes => boxes.map(b => b.value)") == ["slow"]
    page.click(f"{form} button[type=submit]")  # nothing chosen: said next to the form, nothing sent
    assert "Choose at least one store" in page.inner_text(f"{form} .error")
    page.check("label:has-text('slow — slow disks')")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#copy-status:has-text('Done: copied to slow')", timeout=30_000)
    assert sorted(page.inner_text("#image-stores").removeprefix("In: ").split(", ")) == ["fast", "slow"]
    assert page.locator(f"{form} .note:has-text('in every store of this node')").count() == 1
    assert sorted(api.show(image["id"])["stores"].split(",")) == ["fast", "slow"]
    tasks = api.http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
    assert [t["status"] for t in tasks] == ["success"]
    page.reload()
    page.wait_for_selector("section[aria-label=Tasks] .task:has-text('success')")
    assert page.locator(form).count() == 0  # in every store now: nothing left to copy to
    assert page.errors == []


def test_an_image_without_data_offers_no_copy(page: Any, console_server: Server) -> None:
    owner = f"p-{uuid.uuid4().hex[:10]}"
    image = Api(console_server.url, owner).create(name="empty")
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.wait_for_selector("#image-stores:has-text('no data yet')")
    assert page.locator("form[aria-label='Copy to other stores']").count() == 0
