"""The example templates (examples/templates), loaded as an operator would and rendered into cloud-config
that cloud-init's own schema validator accepts."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Api, Server, manage
from tests.templates.conftest import EXAMPLES, active_image

#: cloud-init's validator takes seconds per document: check the examples on one backend.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

CLOUD_INIT = shutil.which("cloud-init")
WG_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
VALID = {
    "wordpress": {"site_title": "Ann's \"kitchen\" # recipes: *best* & more", "site_host": "blog.example.org",
                  "admin_email": "ann@example.org", "admin_password": "c0rrect-h0rse!",
                  "db_password": "db-secret-0123456789"},
    "wireguard-gateway": {"interface_address": "10.8.0.1/24", "listen_port": "51821",
                          "peers": [f"{WG_KEY} 10.8.0.2/32,192.168.50.0/24", f"{WG_KEY[:-2]}w= 10.8.0.3/32"],
                          "allowed_tcp_ports": [22, 443], "masquerade": "false"},
}
INVALID = {
    "wordpress": ({"site_title": "two\nlines", "site_host": "not a host", "admin_email": "ann@", "db_password": "short"},
                  {"site_title", "site_host", "admin_email", "db_password"}),
    "wireguard-gateway": ({"listen_port": 0, "peers": ["no-key 10.0.0.1/32"], "allowed_tcp_ports": [22, 22]},
                          {"interface_address", "listen_port", "peers", "allowed_tcp_ports"}),
}


@pytest.fixture(scope="module")
def loaded(server: Server, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    admin = Api(server.url)
    image = active_image(admin, visibility="public")
    owner = uuid.uuid4().hex
    result = manage("template", "load", str(EXAMPLES), "--owner", owner, "--image", image["id"], server=server,
                    database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("published") == 2
    again = manage("template", "load", str(EXAMPLES), "--owner", owner, "--image", image["id"], server=server,
                   database_url=database_url)
    assert again.returncode == 0 and again.stdout.count("skipped") == 2
    listing = admin.http.get("/v2/templates", params={"owner": owner}).json()["templates"]
    return {t["name"]: t for t in listing}


def cloud_init_schema(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if CLOUD_INIT is None:
        pytest.skip("cloud-init is not installed (CI installs it with .ci/cloud-init.sh)")
    document = tmp_path / "user-data.yaml"
    document.write_text(text)
    return subprocess.run([CLOUD_INIT, "schema", "-c", str(document)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", sorted(VALID))
def test_an_example_renders_valid_cloud_config(loaded: dict[str, Any], api: Api, name: str, tmp_path: Path) -> None:
    response = api.http.post(f"/v2/templates/{loaded[name]['id']}/render", json={"parameters": VALID[name]})
    assert response.status_code == 200, response.text
    text = response.json()["cloud_config"]
    assert isinstance(yaml.safe_load(text), dict)
    checked = cloud_init_schema(text, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Valid cloud-config" in checked.stdout


def test_wordpress_configures_the_site_with_the_values_intact(loaded: dict[str, Any], api: Api) -> None:
    response = api.http.post(f"/v2/templates/{loaded['wordpress']['id']}/render",
                             json={"parameters": VALID["wordpress"]})
    document = yaml.safe_load(response.json()["cloud_config"])
    assert document["fqdn"] == "blog.example.org" and "mariadb-server" in document["packages"]
    files = {f["path"]: f["content"] for f in document["write_files"]}
    environment = subprocess.run(["sh", "-c", f". /dev/stdin; printf '%s|%s' \"$SITE_TITLE\" \"$DB_PASSWORD\""],
                                 input=files["/etc/wordpress-setup.env"], capture_output=True, text=True)
    assert environment.stdout == f"{VALID['wordpress']['site_title']}|{VALID['wordpress']['db_password']}"
    assert "server_name blog.example.org;" in files["/etc/nginx/sites-available/wordpress"]


def test_wireguard_writes_peers_and_firewall_rules(loaded: dict[str, Any], api: Api) -> None:
    response = api.http.post(f"/v2/templates/{loaded['wireguard-gateway']['id']}/render",
                             json={"parameters": VALID["wireguard-gateway"]})
    files = {f["path"]: f["content"] for f in yaml.safe_load(response.json()["cloud_config"])["write_files"]}
    config = files["/etc/wireguard/wg0.conf"]
    assert "ListenPort = 51821" in config and config.count("[Peer]") == 2
    assert "AllowedIPs = 10.8.0.2/32,192.168.50.0/24" in config
    rules = files["/etc/nftables.conf"]
    assert "udp dport 51821 accept" in rules and "tcp dport { 22, 443 } accept" in rules
    assert "masquerade" not in rules
    assert "/etc/wireguard/private.key" not in files  # no key given: generated on the server


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_example_names_each_invalid_parameter(loaded: dict[str, Any], api: Api, name: str) -> None:
    values, expected = INVALID[name]
    response = api.http.post(f"/v2/templates/{loaded[name]['id']}/render", json={"parameters": values})
    assert response.status_code == 400
    assert {p["parameter"] for p in response.json()["problems"]} == expected


def test_load_finds_the_image_a_file_names_and_reports_bad_files(server: Server, database_url: str,
                                                                 tmp_path: Path) -> None:
    admin = Api(server.url)
    name = f"debian-{uuid.uuid4().hex[:8]}"
    image = active_image(admin, name=name, visibility="public")
    document = yaml.safe_load((EXAMPLES / "wireguard.yaml").read_text())
    (tmp_path / "gateway.yaml").write_text(yaml.safe_dump({**document, "image_name": name}))
    (tmp_path / "broken.json").write_text('{"name": "broken", "version": "1", "image_id": "x", "user_data": ""}')
    owner = uuid.uuid4().hex
    result = manage("template", "load", str(tmp_path), "--owner", owner, server=server, database_url=database_url)
    assert result.returncode == 1
    assert "gateway.yaml: published wireguard-gateway 1.0.0" in result.stdout
    assert "broken.json" in result.stderr and "semantic version" in result.stderr
    listing = admin.http.get("/v2/templates", params={"owner": owner}).json()["templates"]
    assert [(t["name"], t["image_id"]) for t in listing] == [("wireguard-gateway", image["id"])]
