"""An upload from the console on a slow link (Chromium's network throttling): the speed and the time
left are shown while it runs, and Cancel stops it, saying which state the API left the image in."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import Api, Server
from tests.console.conftest import sign_in

FORM = "form[aria-label='Upload a file']"


def test_a_slow_upload_shows_speed_and_time_left_and_is_cancelled(page: Any, console_server: Server,
                                                                   tmp_path: Path) -> None:
    owner = f"p-{uuid.uuid4().hex[:10]}"
    data = tmp_path / "big.raw"
    data.write_bytes(b"\0" * (6 * 1024 * 1024))
    sign_in(page, owner)
    page.goto("/console/#/upload")
    page.wait_for_selector(FORM)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                   "uploadThroughput": 512 * 1024})
    page.fill(f"{FORM} input[name=name]", "cancelled")
    page.set_input_files("input[type=file]", str(data))
    page.click(f"{FORM} button[type=submit]")
    page.wait_for_function("() => /^[1-9][0-9]?% — /.test(document.querySelector('#upload-status').textContent)",
                           timeout=30_000)
    running = page.inner_text("#upload-status")
    assert re.fullmatch(r"\d{1,2}% — [\d.]+ (KiB|MiB) of 6\.00 MiB, [\d.]+ (B|KiB|MiB)/s, (\d+ min )?\d+ s left", running), \
        running
    page.click(f"{FORM} button:has-text('Cancel upload')")
    error = page.wait_for_selector(f"{FORM} .error")
    [image] = Api(console_server.url, owner).http.get("/v2/images", params={"name": "cancelled"}).json()["images"]
    text = error.inner_text()
    assert "The upload was cancelled." in text and re.search(r"with status (queued|saving)", text), text
    assert image["status"] in ("queued", "saving")
    assert page.locator(f"{FORM} button:has-text('Cancel upload')").is_hidden()
    assert page.eval_on_selector("#upload-progress", "bar => bar.value") < 100
