"""The multi-node shape with real processes: two registry and two streaming nodes behind the shipped
nginx routing (``deploy/compose/nginx.conf``), and a rolling restart of all four without a failed request
(each node drained from the proxy, restarted, put back, as docs/deployment.md says).

Skipped where nginx is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port, start_server
from tests.observability.scrape import scrape, value

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "nginx.conf"
FILE = "/v2/images/{image_id}/file"
MAIN = """
{user}
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/glimpse.conf;
}}
"""


@dataclass
class Node:
    name: str
    role: str
    port: int
    data_dir: Path
    env: dict[str, str]
    server: Server | None = None

    def start(self) -> None:
        self.server = start_server(self.data_dir, port=self.port, env={**self.env, "GLIMPSE_ROLE": self.role})

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Deployment:
    url: str
    listen: int
    directory: Path
    proxy: subprocess.Popen[bytes] | None = None
    nodes: list[Node] = field(default_factory=list)

    def route(self, *, down: frozenset[str] = frozenset()) -> None:
        """Write the proxy's configuration with the nodes ``down`` taken out, and make nginx load it."""
        ports = {node.name: node.port for node in self.nodes}
        (self.directory / "glimpse.conf").write_text(routed(SHIPPED.read_text(), ports, self.listen, down))
        if self.proxy is not None:
            self.proxy.send_signal(signal.SIGHUP)  # nginx -s reload: new workers, old ones finish their requests
            time.sleep(1.0)


def routed(template: str, ports: dict[str, int], listen: int, down: frozenset[str] = frozenset()) -> str:
    """The shipped nginx file with the compose service names replaced by this test's loopback ports
    (and ``down`` marked so, as an operator drains a node)."""
    text = re.sub(r"server ((?:registry|streaming)-\d):9292",
                  lambda m: f"server 127.0.0.1:{ports[m.group(1)]}" + (" down" if m.group(1) in down else ""),
                  template)
    text, count = re.subn(r"listen 9292;", f"listen 127.0.0.1:{listen};", text)
    assert count == 1
    return text


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    shared = tmp_path_factory.mktemp("multinode")
    env = {"GLIMPSE_DATABASE_URL": f"sqlite:///{shared / 'glimpse.db'}",
           "GLIMPSE_STORES": json.dumps({"file": {"driver": "filesystem", "path": str(shared / "images")}}),
           "GLIMPSE_METRICS_CACHE_SECONDS": "0"}
    names = [("registry-1", "registry"), ("registry-2", "registry"), ("streaming-1", "streaming"),
             ("streaming-2", "streaming")]
    nodes = [Node(name, role, free_port(), shared / name, env) for name, role in names]
    listen = free_port()
    directory = shared / "nginx"
    directory.mkdir()
    deployment = Deployment(f"http://127.0.0.1:{listen}", listen, directory, nodes=nodes)
    deployment.route()
    user = "user root;" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(MAIN.format(user=user, dir=directory))
    for node in nodes:
        node.env["GLIMPSE_PUBLIC_ENDPOINT"] = f"http://127.0.0.1:{listen}"
        node.start()
    proxy = deployment.proxy = subprocess.Popen([str(NGINX), "-c", str(directory / "nginx.conf"), "-p",
                                                 str(directory)], stderr=subprocess.PIPE)
    url = deployment.url
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthcheck").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proxy.poll() is None and time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.1)
    yield deployment
    proxy.terminate()
    proxy.wait(timeout=10)
    for node in nodes:
        node.stop()


def cycle(http: httpx.Client, data: bytes) -> None:
    """One user's round: create, upload, show, download; raises on any unexpected answer."""
    created = http.post("/v2/images", json={"name": "rolling", "disk_format": "raw", "container_format": "bare"})
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    uploaded = http.put(f"/v2/images/{image_id}/file", content=data,
                        headers={"Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 204, uploaded.text
    shown = http.get(f"/v2/images/{image_id}")
    assert shown.status_code == 200 and shown.json()["status"] == "active", shown.text
    downloaded = http.get(f"/v2/images/{image_id}/file")
    assert downloaded.status_code == 200 and downloaded.content == data


def test_image_data_goes_to_the_streaming_nodes_and_metadata_to_the_registry_nodes(deployment: Deployment) -> None:
    before = {node.name: scrape(node.url) for node in deployment.nodes}
    data = os.urandom(200_000)
    with httpx.Client(base_url=deployment.url, headers={"X-Project-Id": uuid.uuid4().hex}, timeout=30) as http:
        for _ in range(4):
            cycle(http, data)
    moved: dict[str, dict[str, float]] = {}
    for node in deployment.nodes:
        after = scrape(node.url)
        moved[node.name] = {
            what: value(after, "glimpse_http_requests_total", route=route, method=method, status=status)
            - value(before[node.name], "glimpse_http_requests_total", route=route, method=method, status=status)
            for what, route, method, status in (("upload", FILE, "PUT", "204"), ("download", FILE, "GET", "200"),
                                                ("create", "/v2/images", "POST", "201"))}
    registry = [moved["registry-1"], moved["registry-2"]]
    streaming = [moved["streaming-1"], moved["streaming-2"]]
    assert sum(m["create"] for m in registry) == 4 and sum(m["create"] for m in streaming) == 0
    assert sum(m["upload"] for m in streaming) == 4 and sum(m["upload"] for m in registry) == 0
    assert sum(m["download"] for m in streaming) == 4 and sum(m["download"] for m in registry) == 0
    for name in ("registry-1", "registry-2"):  # nginx spreads the metadata calls over both
        served = sum(v for (n, _), v in scrape(deployment.nodes[0 if name == "registry-1" else 1].url).items()
                     if n == "glimpse_http_requests_total")
        earlier = sum(v for (n, _), v in before[name].items() if n == "glimpse_http_requests_total")
        assert served > earlier, name


def test_a_rolling_restart_of_every_node_fails_no_request(deployment: Deployment) -> None:
    data = os.urandom(50_000)
    stop = threading.Event()
    done: list[int] = []
    failures: list[str] = []

    def users() -> None:
        # A connection per request: nginx's reload closes idle client connections, a race this test is not about.
        headers = {"X-Project-Id": uuid.uuid4().hex, "Connection": "close"}
        with httpx.Client(base_url=deployment.url, headers=headers, timeout=60) as http:
            while not stop.is_set():
                try:
                    cycle(http, data)
                    done.append(1)
                except (AssertionError, httpx.HTTPError) as exc:
                    failures.append(repr(exc))

    loops = [threading.Thread(target=users) for _ in range(2)]
    for loop in loops:
        loop.start()
    try:
        for node in deployment.nodes:  # the procedure of docs/deployment.md, "Upgrades"
            before = len(done)
            deployment.route(down=frozenset({node.name}))  # drain: the proxy sends it nothing new
            node.stop()  # SIGTERM: finish requests in progress
            node.start()  # healthy again
            deployment.route()  # back in the proxy
            deadline = time.monotonic() + 20
            while len(done) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        stop.set()
        for loop in loops:
            loop.join()
    assert failures == []
    assert len(done) >= 8
