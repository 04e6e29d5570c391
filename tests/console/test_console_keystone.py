"""Signing in to the console with Keystone credentials: the node exchanges them for a token (a real
Keystone; skipped where it cannot run), and the page then works with that token only."""

from __future__ import annotations

from typing import Any

from tests.support.identity import PASSWORD


def test_keystone_credentials_are_exchanged_for_a_token_kept_only_in_the_tab(browser: Any, keystone_cloud: Any) -> None:
    context = browser.new_context(base_url=keystone_cloud.glimpse.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto("/console/")
        page.fill("#si-user", "alice")
        page.fill("#si-password", "wrong")
        page.fill("#si-project", "blue")
        page.click("#sign-in-submit")
        error = page.wait_for_selector("#sign-in-error .error")
        assert "Keystone refused these credentials" in error.inner_text() and "HTTP 401" in error.inner_text()
        page.fill("#si-password", PASSWORD)
        page.click("#sign-in-submit")
        page.wait_for_selector("#images")
        assert "alice (blue)" in page.inner_text("#who")
        stored = page.evaluate("JSON.parse(sessionStorage.getItem('glimpse.console.session'))")
        assert stored["token"] and PASSWORD not in str(stored)
        assert [c["name"] for c in context.cookies()] == ["glimpse_console_csrf"]  # no token in a cookie
        assert " until " in page.inner_text("#who")
        # A token past the expiry Keystone gave it: the console asks to sign in again before sending it,
        # over the page the user was on, and goes on there afterwards.
        page.goto("/console/#/upload")
        page.wait_for_selector("form[aria-label='Upload a file']")
        page.fill("form[aria-label='Upload a file'] input[name=name]", "kept")
        page.evaluate("""() => { const key = 'glimpse.console.session';
            const s = JSON.parse(sessionStorage.getItem(key)); s.expires_at = '2000-01-01T00:00:00Z';
            sessionStorage.setItem(key, JSON.stringify(s)); }""")
        page.set_input_files("input[type=file]", files=[{"name": "a.raw", "mimeType": "application/octet-stream",
                                                         "buffer": b"\0" * 4096}])
        page.click("form[aria-label='Upload a file'] button[type=submit]")
        page.wait_for_selector("#sign-in[open]")
        assert "expired" in page.inner_text("#sign-in-reason")
        page.fill("#si-user", "alice")
        page.fill("#si-password", PASSWORD)
        page.fill("#si-project", "blue")
        page.click("#sign-in-submit")
        page.wait_for_selector("#upload-status:has-text('Done: the image is active')")
        assert page.input_value("form[aria-label='Upload a file'] input[name=name]") == "kept"
        page.click("#sign-out")
        assert page.evaluate("sessionStorage.getItem('glimpse.console.session')") is None
    finally:
        context.close()
