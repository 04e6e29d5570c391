"""The deployment artefacts in ``deploy/`` say what docs/deployment.md says they do."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from glimpse.settings import Settings
from glimpse.stores.loader import load_store

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose"


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def unit_environment(name: str) -> dict[str, str]:
    text = (DEPLOY / "systemd" / name).read_text()
    return dict(re.findall(r"^Environment=(\w+)=(\S+)$", text, re.M))


def test_there_is_a_systemd_unit_per_role() -> None:
    for name, role in (("glimpse-api.service", "all"), ("glimpse-registry.service", "registry"),
                       ("glimpse-streaming.service", "streaming")):
        parsed = unit(name)
        service = parsed["Service"]
        assert service["ExecStart"].split()[0].endswith("/glimpse-api")
        assert unit_environment(name)["GLIMPSE_ROLE"] == role
        Settings(role=role)  # a role the settings accept
        assert service["User"] == "glimpse" and service["NoNewPrivileges"] == "true"
        assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
        assert service["KillSignal"] == "SIGTERM"
        assert int(service["TimeoutStopSec"]) > 30  # more than the workers' graceful timeout
        assert parsed["Install"]["WantedBy"] == "multi-user.target"
    timer = unit("glimpse-cleanup.timer")
    assert timer["Timer"]["OnCalendar"] == "hourly"
    assert unit("glimpse-cleanup.service")["Service"]["ExecStart"].endswith("glimpse-manage cleanup")


def test_the_container_image_is_multi_stage_unprivileged_and_health_checked() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) >= 2
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = re.search(r"^HEALTHCHECK .*\n(?:\s+.*\n)*", text, re.M)
    assert health and "/healthcheck" in health.group(0)
    assert re.search(r"^ENTRYPOINT \[\"glimpse-api\"\]", text, re.M)
    assert "COPY --from=build" in text


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    return loaded


def test_the_compose_file_has_the_multi_node_shape() -> None:
    services = compose()["services"]
    roles = {name: s.get("environment", {}).get("GLIMPSE_ROLE") for name, s in services.items()}
    assert sorted(n for n, r in roles.items() if r == "registry") == ["registry-1", "registry-2"]
    assert sorted(n for n, r in roles.items() if r == "streaming") == ["streaming-1", "streaming-2"]
    for name in ("postgres", "minio", "rabbitmq", "proxy"):
        assert name in services
    for node in ("registry-1", "registry-2", "streaming-1", "streaming-2"):
        service = services[node]
        assert service["build"]["dockerfile"] == "deploy/Containerfile"
        assert (COMPOSE / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert "./glimpse.toml:/etc/glimpse/glimpse.toml:ro" in service["volumes"]
        assert service["environment"]["GLIMPSE_CONFIG"] == "/etc/glimpse/glimpse.toml"
        assert set(service["depends_on"]) >= {"postgres", "minio", "rabbitmq"}
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["proxy"]["volumes"]


def test_the_compose_configuration_points_at_the_compose_services() -> None:
    config = tomllib.loads((COMPOSE / "glimpse.toml").read_text())
    services = compose()["services"]
    assert "@postgres:5432/" in config["database_url"]
    assert "@rabbitmq:5672/" in config["amqp_url"]
    for store in (config["stores"][config["default_store"]], config["staging_store"]):
        assert store["endpoint"] == "http://minio:9000"
        assert store["secret_key"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    assert config["auth_strategy"] != "noauth"  # the nodes listen on the container network
    Settings(**config)  # every key is a valid setting
    for store_id, options in (*config["stores"].items(), ("staging", config["staging_store"])):
        load_store(store_id, options)  # the driver takes every option (it connects on first use)


def test_the_proxy_sends_image_data_to_the_streaming_nodes() -> None:
    text = (COMPOSE / "nginx.conf").read_text()
    upstreams = dict(re.findall(r"upstream (\w+) \{([^}]*)\}", text))
    assert re.findall(r"server (registry-\d):9292", upstreams["glimpse_registry"]) == ["registry-1", "registry-2"]
    assert re.findall(r"server (streaming-\d):9292", upstreams["glimpse_streaming"]) == ["streaming-1",
                                                                                         "streaming-2"]
    data = re.search(r"location ~ (\S+) \{\s*proxy_pass http://glimpse_streaming;", text)
    assert data is not None
    pattern = re.compile(data.group(1))
    assert pattern.match("/v2/images/0b6c/file") and pattern.match("/v2.9/images/0b6c/stage")
    assert not pattern.match("/v2/images/0b6c") and not pattern.match("/v2/images/0b6c/file/x")
    assert "proxy_request_buffering off;" in text and "client_max_body_size 0;" in text
