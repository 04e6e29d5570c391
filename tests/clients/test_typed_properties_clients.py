"""python-glanceclient (library and ``glance`` CLI) and openstacksdk against a catalog with typed properties.

They keep working unchanged: values travel as the clients send them (the CLI
sends strings), refusals surface as the clients' own 400 errors carrying the
server's message, and glanceclient's schema validation of requests and
responses accepts everything the server accepts and returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import openstack
import pytest
from glanceclient import Client
from glanceclient import exc as glance_exc
from openstack import exceptions as sdk_exc

from tests.clients.test_openstacksdk import connect
from tests.conftest import Server


@pytest.fixture(autouse=True)
def _loaded(catalog: Path) -> None:
    """The test catalog is loaded."""


@pytest.fixture
def glance(server: Server, project: str) -> Client:
    return Client("2", endpoint=server.url, token="unused", identity_headers={"X-Project-Id": project})


@pytest.fixture
def sdk(server: Server, project: str) -> openstack.connection.Connection:
    return connect(server, project)


# -- python-glanceclient, the library


def test_glanceclient_creates_and_updates_typed_properties(glance: Client) -> None:
    image = glance.images.create(name="gc-typed", disk_format="raw", container_format="bare",
                                 hw_cpu_sockets=2, hw_vif_multiqueue_enabled=True, hw_cpu_policy="dedicated",
                                 hw_cpu_cores="08")
    assert (image["hw_cpu_sockets"], image["hw_vif_multiqueue_enabled"]) == ("2", "true")
    assert (image["hw_cpu_cores"], image["hw_cpu_policy"]) == ("8", "dedicated")
    updated = glance.images.update(image["id"], hw_cpu_sockets=4, hw_watchdog_action="reset",
                                   remove_props=["hw_cpu_policy"])
    assert updated["hw_cpu_sockets"] == "4" and updated["hw_watchdog_action"] == "reset"
    assert "hw_cpu_policy" not in updated
    assert glance.images.get(image["id"])["hw_cpu_cores"] == "8"


def test_glanceclient_validates_locally_what_its_schema_knows_and_the_server_refuses_the_rest(
        glance: Client) -> None:
    with pytest.raises(TypeError, match="hw_cpu_policy"):  # warlock, before any request: enum
        glance.images.create(name="bad", disk_format="raw", container_format="bare", hw_cpu_policy="exclusive")
    with pytest.raises(glance_exc.HTTPBadRequest) as raised:  # the range is the server's to check
        glance.images.create(name="bad", disk_format="raw", container_format="bare", hw_cpu_sockets="9")
    assert "hw_cpu_sockets" in str(raised.value) and "maximum" in str(raised.value)
    image = glance.images.create(name="ok", disk_format="raw", container_format="bare")
    with pytest.raises(TypeError, match="minimum"):  # a number: its schema's range applies locally
        glance.images.update(image["id"], hw_cpu_cores=0)
    with pytest.raises(glance_exc.HTTPBadRequest) as raised:  # the string form only the server can judge
        glance.images.update(image["id"], hw_cpu_cores="0")
    assert "minimum" in str(raised.value)


def test_glanceclient_reads_metadefs(glance: Client, catalog: Path) -> None:
    namespaces = [n["namespace"] for n in glance.metadefs_namespace.list(
        filters={"resource_types": ["OS::Glance::Image"]})]
    assert "Glimpse::Test::VirtCPUTopology" in namespaces
    shown = glance.metadefs_namespace.get("Glimpse::Test::VirtCPUTopology", resource_type="OS::Glance::Image")
    assert shown["properties"]["hw_cpu_sockets"]["maximum"] == 8
    definition = glance.metadefs_property.get("Glimpse::Test::VirtCPUTopology", "cpu_cores")
    assert definition["type"] == "integer"
    assert "OS::Glance::Image" in [t["name"] for t in glance.metadefs_resource_type.list()]
    assert [t["name"] for t in glance.metadefs_tag.list("Glimpse::Test::Watchdog")] == ["watchdog", "availability"]


# -- the glance CLI


def test_glance_cli_sends_strings_and_they_are_typed_by_the_server(server: Server, tmp_path: Path,
                                                                   project: str) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "OS_IMAGE_URL": server.url, "OS_AUTH_TOKEN": "unused"}
    cli = [sys.executable, "-c", "import sys; from glanceclient.shell import main; sys.exit(main())"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120)

    name = f"cli-typed-{uuid.uuid4().hex[:8]}"
    created = run("image-create", "--name", name, "--disk-format", "raw", "--container-format", "bare",
                  "--property", "hw_cpu_sockets=03", "--property", "hw_vif_multiqueue_enabled=True",
                  "--property", "hw_cpu_features=avx,aes")
    assert created.returncode == 0, created.stderr
    image_id = next(line.split("|")[2].strip() for line in created.stdout.splitlines() if line.startswith("| id "))
    shown = run("image-show", image_id)
    assert shown.returncode == 0, shown.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in shown.stdout.splitlines()
            if line.startswith("| ")}
    assert rows["hw_cpu_sockets"] == "3" and rows["hw_vif_multiqueue_enabled"] == "true"
    assert json.loads(rows["hw_cpu_features"]) == ["avx", "aes"]

    refused = run("image-update", image_id, "--property", "hw_cpu_sockets=99")
    assert refused.returncode != 0 and "hw_cpu_sockets" in refused.stderr and "maximum" in refused.stderr
    assert run("image-update", image_id, "--property", "hw_cpu_sockets=4").returncode == 0
    help_text = run("help", "image-create").stdout
    assert "--hw-cpu-policy" in help_text and "dedicated" in help_text  # learned from the schema
    described = run("md-namespace-show", "Glimpse::Test::Watchdog", "--resource-type", "OS::Glance::Image")
    assert described.returncode == 0 and "hw_watchdog_action" in described.stdout


# -- openstacksdk


def test_openstacksdk_creates_updates_and_reads_typed_properties(sdk: openstack.connection.Connection) -> None:
    name = f"sdk-typed-{uuid.uuid4().hex[:8]}"
    image = sdk.image.create_image(name=name, disk_format="raw", container_format="bare", allow_duplicates=True,
                                   hw_cpu_sockets="2", hypervisor_type="qemu")
    fetched = sdk.image.get_image(image.id)
    assert fetched.hw_cpu_sockets == 2 and fetched.hypervisor_type == "qemu"  # the SDK types some hw_* itself
    sdk.image.update_image(image, hw_cpu_cores="04", hw_vif_multiqueue_enabled="yes", hw_cpu_policy="mixed")
    fetched = sdk.image.get_image(image.id)
    assert fetched.hw_cpu_cores == 4
    raw = sdk.image.get(f"/images/{image.id}").json()
    assert (raw["hw_cpu_cores"], raw["hw_vif_multiqueue_enabled"], raw["hw_cpu_policy"]) == ("4", "true", "mixed")


def test_openstacksdk_surfaces_refusals_with_the_servers_message(sdk: openstack.connection.Connection) -> None:
    with pytest.raises(sdk_exc.BadRequestException) as raised:
        sdk.image.create_image(name="sdk-bad", disk_format="raw", container_format="bare", allow_duplicates=True,
                               hypervisor_type="bochs")
    assert "hypervisor_type" in str(raised.value) and "enum" in str(raised.value)
    image = sdk.image.create_image(name="sdk-ok", disk_format="raw", container_format="bare",
                                   allow_duplicates=True)
    with pytest.raises(sdk_exc.BadRequestException) as raised:
        sdk.image.update_image(image, img_hv_requested_version="six")
    assert "pattern" in str(raised.value)
