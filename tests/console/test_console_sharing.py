"""Sharing in the console, both sides: the owner removes a member; the other project rejects a share
and accepts it again."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api, Server
from tests.console.conftest import sign_in


def project() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def test_a_member_is_removed_and_a_share_is_rejected_then_accepted(page: Any, console_server: Server) -> None:
    owner, gone, guest = project(), project(), project()
    api = Api(console_server.url, owner)
    image = api.create(name="shared-one", visibility="shared")
    for member in (gone, guest):
        assert api.http.post(f"/v2/images/{image['id']}/members", json={"member": member}).status_code == 200
    sign_in(page, owner)
    page.goto(f"/console/#/images/{image['id']}")
    page.wait_for_selector(f"#members li:has-text('{gone}')")
    page.click(f"#members li:has-text('{gone}') button")
    page.wait_for_function(f"() => document.querySelector('#members') "
                           f"&& !document.querySelector('#members').innerText.includes('{gone}')")
    assert [m["member_id"] for m in api.http.get(f"/v2/images/{image['id']}/members").json()["members"]] == [guest]

    page.click("#sign-out")
    page.fill("#si-project-id", guest)
    page.click("#sign-in-submit")
    page.goto("/console/#/shared")
    page.click("section[aria-label='pending shares'] button:has-text('Reject')")
    page.wait_for_selector("section[aria-label='rejected shares'] a:has-text('shared-one')")
    member = api.http.get(f"/v2/images/{image['id']}/members/{guest}").json()
    assert member["status"] == "rejected"
    page.click("section[aria-label='rejected shares'] button:has-text('Accept')")
    page.wait_for_selector("section[aria-label='accepted shares'] a:has-text('shared-one')")
    assert api.http.get(f"/v2/images/{image['id']}/members/{guest}").json()["status"] == "accepted"
    # On the image's own page the member sees its answer, not the owner's member list, and can change it.
    page.click("section[aria-label='accepted shares'] a:has-text('shared-one')")
    page.wait_for_selector("#my-membership:has-text('accepted')")
    assert page.locator("#members").count() == 0 and page.locator("input[name=member]").count() == 0
    page.click("section[aria-label=Members] button:has-text('Reject')")
    page.wait_for_selector("#my-membership:has-text('rejected')")
    assert api.http.get(f"/v2/images/{image['id']}/members/{guest}").json()["status"] == "rejected"
    assert page.errors == []
