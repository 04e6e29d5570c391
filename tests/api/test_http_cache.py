"""A standard HTTP cache (nginx ``proxy_cache``) in front of a node serves repeats without asking it.

Skipped, with the reason, where nginx is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api, Server, free_port, start_server

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")

CONFIG = """
{user}
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    proxy_cache_path {dir}/cache keys_zone=images:1m max_size=256m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache images;
            proxy_cache_revalidate on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Debug logging writes one access-log line per request that reaches the node.
    server = start_server(tmp_path_factory.mktemp("origin"), workers=1, log_level="debug")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cache_url(origin: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = directory / "nginx.conf"
    # Run as root, nginx's workers would switch to "nobody", who cannot enter pytest's directories.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(CONFIG.format(user=user, dir=directory, port=port, upstream=origin.url))
    process = subprocess.Popen([str(NGINX), "-c", str(conf), "-p", str(directory)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/healthcheck", timeout=2)
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def requests_seen(origin: Server, path: str) -> int:
    return len(re.findall(rf'"GET {re.escape(path)} HTTP/1\.1" \d+', origin.log.read_text()))


def test_repeat_downloads_of_a_public_image_are_served_by_the_cache(origin: Server, cache_url: str) -> None:
    admin = Api(origin.url)
    data = bytes(range(256)) * 4096
    try:
        image = admin.create(name="cached", visibility="public")
        assert admin.upload(image["id"], data).status_code == 204
    finally:
        admin.close()
    path = f"/v2/images/{image['id']}/file"
    statuses = []
    for _ in range(3):
        response = httpx.get(cache_url + path, headers={"X-Project-Id": uuid.uuid4().hex}, timeout=30)
        assert response.status_code == 200 and response.content == data
        statuses.append(response.headers["x-cache-status"])
    assert statuses == ["MISS", "HIT", "HIT"]
    time.sleep(0.2)
    assert requests_seen(origin, path) == 1


def test_repeat_schema_fetches_are_served_by_the_cache(origin: Server, cache_url: str) -> None:
    statuses = []
    for _ in range(3):
        response = httpx.get(f"{cache_url}/v2/schemas/image", timeout=10)
        assert response.status_code == 200 and response.json()["name"] == "image"
        statuses.append(response.headers["x-cache-status"])
    assert statuses == ["MISS", "HIT", "HIT"]
    time.sleep(0.2)
    assert requests_seen(origin, "/v2/schemas/image") == 1


def test_private_image_data_is_not_kept_by_the_shared_cache(origin: Server, cache_url: str) -> None:
    api = Api(origin.url, uuid.uuid4().hex)
    try:
        image = api.create(name="private")
        assert api.upload(image["id"], b"secret").status_code == 204
    finally:
        api.close()
    path = f"/v2/images/{image['id']}/file"
    for _ in range(2):
        response = httpx.get(cache_url + path, headers={"X-Project-Id": api.project or ""}, timeout=10)
        assert response.status_code == 200 and response.content == b"secret"
        assert response.headers["x-cache-status"] in ("MISS", "BYPASS")
    stranger = httpx.get(cache_url + path, headers={"X-Project-Id": uuid.uuid4().hex}, timeout=10)
    assert stranger.status_code == 404
    time.sleep(0.2)
    assert requests_seen(origin, path) == 3
