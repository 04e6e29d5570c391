"""Typed properties and the catalog through the internal Python API (no HTTP), each test with its own database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glimpse import errors
from glimpse.context import RequestContext
from glimpse.domain.images import PropertyVisibility
from glimpse.domain.patch import parse_patch
from glimpse.domain.properties import Precondition
from glimpse.composition import open_services
from glimpse.services import Services
from glimpse.settings import Settings
from tests.conftest import CATALOG_DIR

GLANCE_METADEFS = Path("/tmp/glance-peer/venv/etc/glance/metadefs")


def catalog_files(directory: Path) -> list[tuple[str, Any]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(directory.glob("*.json"))]


def open_with(tmp_path: Path, **settings: Any) -> Services:
    return open_services(Settings(data_dir=tmp_path, **settings))


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = open_with(tmp_path)
    built.metadefs.load(catalog_files(CATALOG_DIR))
    yield built
    built.close()


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext.for_project(uuid.uuid4().hex)


def create(services: Services, ctx: RequestContext, **fields: Any) -> Any:
    return services.images.create(ctx, {"disk_format": "raw", "container_format": "bare", **fields})


def test_create_and_update_check_types_and_store_canonical_strings(services: Services, ctx: RequestContext) -> None:
    image = create(services, ctx, hw_cpu_sockets=2, hw_vif_multiqueue_enabled="on", hw_boot_menu_timeout="3.0")
    assert image.properties["hw_cpu_sockets"] == "2" and image.properties["hw_vif_multiqueue_enabled"] == "true"
    assert image.properties["hw_boot_menu_timeout"] == "3"
    with pytest.raises(errors.PropertyValueInvalid) as raised:
        services.images.update(ctx, image.id, parse_patch([{"op": "add", "path": "/hw_cpu_cores", "value": "x"}]))
    assert (raised.value.name, raised.value.rule, raised.value.value) == ("hw_cpu_cores", "type", "x")
    assert isinstance(raised.value, errors.SchemaViolation)  # so every transport answers 400


def test_each_kind_of_rejection(services: Services, ctx: RequestContext) -> None:
    cases = {"type": {"hw_video_ram": "lots"}, "enum": {"vm_mode": "kvm"}, "minimum": {"hw_video_ram": -1},
             "maximum": {"hw_boot_menu_timeout": 40}, "pattern": {"img_hv_requested_version": "v1"},
             "maxLength": {"hw_machine_type": "m" * 41}, "minLength": {"hw_machine_type": "m"},
             "readonly": {"img_built_by": "x"}, "uniqueItems": {"hw_cpu_features": "aes,aes"},
             "required": {"sw_database_postgresql_listen_port": 1}}
    for rule, fields in cases.items():
        with pytest.raises(errors.PropertyValueInvalid) as raised:
            create(services, ctx, **fields)
        assert raised.value.rule == rule, (rule, raised.value.message)


def test_readonly_properties_yield_to_administrators(services: Services, ctx: RequestContext) -> None:
    image = create(services, RequestContext.admin(ctx.project_id), img_built_by="ci")
    assert image.properties["img_built_by"] == "ci"


def test_the_catalog_is_read_once_per_revision_not_per_request(services: Services, ctx: RequestContext) -> None:
    create(services, ctx, hw_cpu_sockets=1)
    loads = services.catalog.loads
    for _ in range(20):
        create(services, ctx, hw_cpu_sockets=1)
    assert services.catalog.loads == loads
    admin = RequestContext.admin()
    services.metadef_contents.create_property(admin, "Glimpse::Test::Watchdog",
                                              {"name": "watchdog_timeout", "title": "T", "type": "integer"})
    with pytest.raises(errors.PropertyValueInvalid):
        create(services, ctx, hw_watchdog_timeout="soon")
    assert services.catalog.loads == loads + 1


def test_another_node_sees_catalog_changes_on_its_next_request(services: Services, tmp_path: Path,
                                                               ctx: RequestContext) -> None:
    other = open_with(tmp_path)  # a second node on the same database
    try:
        create(other, ctx, hw_watchdog_action="reset")
        services.metadef_contents.update_property(RequestContext.admin(), "Glimpse::Test::Watchdog",
                                                  "watchdog_action", {"name": "watchdog_action", "title": "W",
                                                                      "type": "string", "enum": ["pause"]})
        with pytest.raises(errors.PropertyValueInvalid):
            create(other, ctx, hw_watchdog_action="reset")
    finally:
        other.close()


def test_undefined_properties_can_be_refused_by_configuration(tmp_path: Path, ctx: RequestContext) -> None:
    strict = open_with(tmp_path, reject_undefined_image_properties=True)
    try:
        strict.metadefs.load(catalog_files(CATALOG_DIR))
        assert create(strict, ctx, hw_cpu_sockets="1", os_distro="fedora").properties["os_distro"] == "fedora"
        with pytest.raises(errors.PropertyValueInvalid) as raised:
            create(strict, ctx, my_own_label="x")
        assert raised.value.rule == "defined"
    finally:
        strict.close()


def test_property_records_private_visibility_and_preconditions(services: Services, ctx: RequestContext) -> None:
    image = create(services, ctx, hw_cpu_cores="2")
    record, created = services.properties.set(ctx, image.id, "secret", "v", visibility="private")
    assert created and record.visibility is PropertyVisibility.PRIVATE and record.project_id == ctx.project_id
    other = RequestContext.for_project(uuid.uuid4().hex)
    services.images.update(ctx, image.id, parse_patch([{"op": "replace", "path": "/visibility",
                                                        "value": "community"}]))
    assert "secret" not in services.images.get(other, image.id).properties
    with pytest.raises(errors.PropertyNotFound):
        services.properties.get(other, image.id, "secret")
    cores = services.properties.get(ctx, image.id, "hw_cpu_cores")
    assert (cores.value, cores.type) == (2, "integer")
    stale = Precondition(versions=frozenset({cores.version}), match_required=True)
    services.properties.set(ctx, image.id, "hw_cpu_cores", 3, precondition=stale)
    with pytest.raises(errors.PreconditionFailed):
        services.properties.set(ctx, image.id, "hw_cpu_cores", 4, precondition=stale)
    assert services.images.get(ctx, image.id).properties["hw_cpu_cores"] == "3"


def test_export_writes_files_that_load_back_the_same(services: Services, tmp_path: Path) -> None:
    exported = services.metadefs.export()
    assert {d["namespace"] for d in exported} >= {"Glimpse::Test::CPUPinning", "Glimpse::Test::DBMS"}
    again = open_with(tmp_path / "second")
    try:
        again.metadefs.load([(d["namespace"], d) for d in exported])
        assert again.metadefs.export() == exported
    finally:
        again.close()


def test_a_bad_catalog_file_loads_nothing(tmp_path: Path) -> None:
    fresh = open_with(tmp_path)
    try:
        good = json.loads((CATALOG_DIR / "compute-watchdog.json").read_text())
        bad = {"namespace": "Glimpse::Bad", "properties": {"p": {"type": "string"}}}  # no title
        with pytest.raises(errors.SchemaViolation, match="bad.json"):
            fresh.metadefs.load([("good.json", good), ("bad.json", bad)])
        assert fresh.metadefs.export() == []
    finally:
        fresh.close()


@pytest.mark.skipif(not GLANCE_METADEFS.is_dir(), reason=f"Glance's own catalog files are not at {GLANCE_METADEFS} "
                                                         "(they come with the Glance peer's virtualenv)")
def test_glances_real_catalog_files_load_and_are_enforced(tmp_path: Path, ctx: RequestContext) -> None:
    fresh = open_with(tmp_path)
    try:
        outcomes = fresh.metadefs.load(catalog_files(GLANCE_METADEFS))
        assert len(outcomes) == len(list(GLANCE_METADEFS.glob("*.json"))) and {o for _, o in outcomes} == {"created"}
        watchdog = fresh.metadefs.get_namespace(RequestContext.admin(), "OS::Compute::Watchdog",
                                                resource_type="OS::Glance::Image")
        assert [p.name for p in watchdog.properties] == ["hw_watchdog_action"]
        image = create(fresh, ctx, hw_watchdog_action="reset", hw_cpu_policy="dedicated", os_distro="ubuntu",
                       hw_vif_multiqueue_enabled="true", hw_cpu_sockets="2")
        assert image.properties["hw_cpu_sockets"] == "2"
        # Glance defines this one as a string enum, so only its exact spellings fit
        for fields in ({"hw_watchdog_action": "explode"}, {"hw_cpu_policy": "exclusive"},
                       {"hypervisor_type": "bochs"}, {"hw_vif_multiqueue_enabled": "True"},
                       {"hw_cpu_sockets": "two"}):
            with pytest.raises(errors.PropertyValueInvalid):
                create(fresh, ctx, **fields)
        advertised = fresh.catalog.advertised(ctx, frozenset())
        assert advertised["hw_watchdog_action"]["metadef"]["namespace"] == "OS::Compute::Watchdog"
        # openstacksdk's own properties stay free-form
        assert create(fresh, ctx, **{"owner_specified.openstack.md5": ""}).properties[
            "owner_specified.openstack.md5"] == ""
    finally:
        fresh.close()
