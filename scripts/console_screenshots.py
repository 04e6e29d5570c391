#!/usr/bin/env python3
"""Take the screenshots of docs/console.md: start a throw-away node, fill it with a few images, a
typed property and a template, and photograph the console's main pages with headless Chromium.

    python scripts/console_screenshots.py            # writes docs/console/*.png

Needs playwright (the test extra) and Debian's chromium (.ci/chromium.sh).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "console"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
OWNER = {"X-Project-Id": "demo", "X-Roles": "member,reader"}


def start(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env["GLIMPSE_EXTENSIONS"] = '["templates", "console", "image-import"]'
    env["GLIMPSE_STORES"] = json.dumps({name: {"driver": "filesystem", "path": str(data_dir / name),
                                               "description": description}
                                        for name, description in (("local", "local disks"), ("backup", "backup site"))})
    env["GLIMPSE_DEFAULT_STORE"] = "local"
    process = subprocess.Popen([sys.executable, "-m", "glimpse.cli.serve", "--host", "127.0.0.1", "--port", str(port),
                                "--data-dir", str(data_dir), "--workers", "1", "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthcheck").status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("glimpse-api did not start")


def seed(url: str) -> dict[str, str]:
    api = httpx.Client(base_url=url, headers=OWNER)
    httpx.post(f"{url}/v2/metadefs/namespaces", json={
        "namespace": "Demo::CPU", "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
        "properties": {"cpu_cores": {"title": "vCPU cores", "description": "Cores per socket the guest sees.",
                                     "type": "integer", "minimum": 1, "maximum": 8},
                       "disk_bus": {"title": "Disk bus", "description": "How the root disk is attached.",
                                    "type": "string", "enum": ["virtio", "scsi", "ide"]},
                       "secure_boot": {"title": "Secure boot", "description": "Boot with UEFI secure boot.",
                                       "type": "boolean"}}}).raise_for_status()
    ids = {}
    for name, fmt, size in (("debian-12", "raw", 3 << 20), ("ubuntu-24.04", "qcow2", 0),
                            ("windows-test", "vhd", 0), ("alpine-3.20", "raw", 1 << 20)):
        image = api.post("/v2/images", json={"name": name, "disk_format": fmt, "container_format": "bare",
                                             "tags": ["demo"]}).json()
        if size:
            api.put(f"/v2/images/{image['id']}/file", content=b"\0" * size,
                    headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        ids[name] = image["id"]
    api.post("/v2/templates", json={
        "name": "web-server", "version": "1.0.0", "image_id": ids["debian-12"],
        "description": "nginx serving a static site",
        "parameters": {"host": {"type": "string", "format": "hostname", "title": "Host name", "required": True},
                       "workers": {"type": "integer", "minimum": 1, "maximum": 16, "default": 2,
                                   "title": "Worker processes"}},
        "user_data": "#cloud-config\nhostname: {{ host }}\n"}).raise_for_status()
    return ids


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print("wrote", OUT / f"{name}.png")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start(Path(tmp) / "node")
        try:
            ids = seed(url)
            big = Path(tmp) / "disk.raw"
            big.write_bytes(b"\0" * (16 << 20))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(base_url=url, viewport={"width": 1100, "height": 700})
                page.goto("/console/")
                page.wait_for_selector("#sign-in[open]")
                page.fill("#si-project-id", "demo")
                shoot(page, "sign-in")
                page.click("#sign-in-submit")
                page.wait_for_selector("#images")
                shoot(page, "images")
                page.goto("/console/#/images?q=DEB")
                page.wait_for_selector("#scan-note")
                shoot(page, "search")
                page.goto(f"/console/#/images/{ids['debian-12']}")
                page.wait_for_selector("input[name=hw_cpu_cores]")
                page.fill("input[name=hw_cpu_cores]", "12")
                page.select_option("select[name=hw_disk_bus]", "virtio")
                shoot(page, "image-detail")
                page.check("label:has-text('backup')")
                page.click("form[aria-label='Copy to other stores'] button[type=submit]")
                page.wait_for_selector("#copy-status:has-text('Done')", timeout=60_000)
                page.locator("section[aria-label=Stores]").screenshot(path=str(OUT / "copy.png"))
                print("wrote", OUT / "copy.png")
                page.goto("/console/#/upload")
                page.fill("form[aria-label='Upload a file'] input[name=name]", "fedora-41")
                page.set_input_files("input[type=file]", str(big))
                page.click("form[aria-label='Upload a file'] button[type=submit]")
                page.wait_for_selector("#upload-status:has-text('Done')", timeout=60_000)
                shoot(page, "upload")
                page.goto("/console/#/templates")
                page.click("#templates a")
                page.fill("input[name=host]", "www1")
                page.click("form[aria-label=Render] button[type=submit]")
                page.wait_for_selector("#render-output:has-text('user_data')")
                shoot(page, "template-render")
                browser.close()
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
