"""The console's image list in a real browser: "Name contains" (matched in the browser over the API's
listing, paged), the API's filters, sorting by a column, paging and sizes in human units."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api, Server
from tests.console.conftest import sign_in

ROWS = "#images tbody td:first-child"


def project() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def rendered(page: Any, action: Any) -> None:
    """Run ``action`` and wait until the list is drawn anew (not the one already on screen)."""
    page.evaluate("() => { const t = document.querySelector('#images'); if (t) t.dataset.old = '1'; }")
    action()
    page.wait_for_selector("#images:not([data-old])")


def names(page: Any) -> list[str]:
    return sorted(page.locator(ROWS).all_inner_texts())


def test_name_contains_finds_any_part_of_a_name_ignoring_case_and_pages_on(page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    for name in ("Ubuntu 24.04 server", "my-ubuntu-minimal", "debian 12", "<ubuntu> \"quoted\""):
        api.create(name=name)
    sign_in(page, owner)
    page.fill("form.filters input[name=q]", "UBUNTU")
    page.click("form.filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#images tbody tr').length === 3")
    assert names(page) == sorted(["Ubuntu 24.04 server", "my-ubuntu-minimal", "<ubuntu> \"quoted\""])
    assert "among 4 listed images" in page.inner_text("#scan-note")
    page.fill("form.filters input[name=q]", "<ubuntu> \"")
    page.click("form.filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#images tbody tr').length === 1")
    assert names(page) == ["<ubuntu> \"quoted\""]
    rendered(page, lambda: page.goto("/console/#/images?name=debian 12"))  # the API's exact filter, by address
    assert names(page) == ["debian 12"] and page.locator("#scan-note").count() == 0
    # One match per page: the next page goes on from the last match, then the list ends.
    rendered(page, lambda: page.goto("/console/#/images?q=ubuntu&limit=1&sort=name:asc"))
    seen = page.locator(ROWS).all_inner_texts()
    for _ in range(2):
        rendered(page, lambda: page.click("a[rel=next]:has-text('Search further')"))
        seen += page.locator(ROWS).all_inner_texts()
    assert sorted(seen) == sorted(["Ubuntu 24.04 server", "my-ubuntu-minimal", "<ubuntu> \"quoted\""])
    assert page.locator("a:has-text('First page')").count() == 1
    if page.locator("a[rel=next]").count():  # names sorting after the last match remain to be looked through
        rendered(page, lambda: page.click("a[rel=next]:has-text('Search further')"))
        assert page.locator("text=No images match these filters.").count() == 1
    assert page.locator("a[rel=next]").count() == 0 and page.errors == []


def test_filters_sorting_paging_and_sizes_use_the_apis_listing(page: Any, console_server: Server) -> None:
    owner = project()
    api = Api(console_server.url, owner)
    gold = api.create(name="gold", tags=["gold"], disk_format="raw")
    assert api.upload(gold["id"], b"\7" * (3 * 1024 * 1024)).status_code == 204
    api.create(name="queued-shared", visibility="shared", disk_format="qcow2")
    api.create(name="plain", visibility="private")
    sign_in(page, owner)
    page.wait_for_selector("#images")
    assert page.inner_text("#images tbody tr:has-text('gold') td:nth-child(4)") == "3.00 MiB"

    def narrowed(field: str, value: str, select: bool = False) -> list[str]:
        rendered(page, lambda: page.goto("/console/#/images"))
        form = "form.filters"
        if select:
            page.select_option(f"{form} select[name={field}]", value)
        else:
            page.fill(f"{form} input[name={field}]", value)
        rendered(page, lambda: page.click(f"{form} button[type=submit]"))
        assert f"{field}=" in page.url
        return names(page)

    assert narrowed("status", "active", select=True) == ["gold"]
    assert narrowed("visibility", "private", select=True) == ["plain"]
    assert narrowed("tag", "gold") == ["gold"]
    assert narrowed("owner", owner) == ["gold", "plain", "queued-shared"]
    assert narrowed("owner", "somebody-else") == []

    page.goto("/console/#/images")
    page.click("#images th button:has-text('Name')")
    page.wait_for_selector("#images th[aria-sort=ascending]:has-text('Name')")
    assert page.locator(ROWS).all_inner_texts() == ["gold", "plain", "queued-shared"]
    page.click("#images th button:has-text('Name')")
    page.wait_for_selector("#images th[aria-sort=descending]:has-text('Name')")
    assert page.locator(ROWS).all_inner_texts() == ["queued-shared", "plain", "gold"]

    page.goto("/console/#/images?limit=2&sort=name:asc")
    page.wait_for_function("() => document.querySelectorAll('#images tbody tr').length === 2")
    assert page.locator(ROWS).all_inner_texts() == ["gold", "plain"]
    page.click("a[rel=next]:has-text('Next page')")
    page.wait_for_function("() => document.querySelectorAll('#images tbody tr').length === 1")
    assert page.locator(ROWS).all_inner_texts() == ["queued-shared"]
    page.click("a:has-text('First page')")
    page.wait_for_function("() => document.querySelectorAll('#images tbody tr').length === 2")
    assert "sort=name%3Aasc" in page.url or "sort=name:asc" in page.url
