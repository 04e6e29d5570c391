"""``glimpse`` output as openstackclient's: formats, columns, names for IDs, one-line errors, units."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from glimpseclient import _output, cli
from tests.client.test_cli import ok, run
from tests.conftest import Api, Server, start_server


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("cli-output"), env={
        "GLIMPSE_QUOTA_IMAGE_SIZE_TOTAL": "100", "GLIMPSE_IMAGE_SIZE_CAP": "1000"})
    yield server
    server.stop()


@pytest.fixture
def images(node: Server, project: str) -> list[dict[str, object]]:
    api = Api(node.url, project)
    made = [api.create(name="alpha", min_ram=64), api.create(name="beta")]
    assert api.upload(str(made[0]["id"]), b"x" * 300).status_code == 204
    return [api.show(str(image["id"])) for image in made]


def test_every_format_prints_the_same_images(node: Server, project: str, images: list[dict[str, object]]) -> None:
    as_json = json.loads(ok(run(node.url, project, "image", "list", "-f", "json")))
    as_yaml = yaml.safe_load(ok(run(node.url, project, "image", "list", "-f", "yaml")))
    assert as_yaml == as_json and {i["id"] for i in as_json} == {i["id"] for i in images}
    rows = list(csv.reader(io.StringIO(ok(run(node.url, project, "image", "list", "-f", "csv")))))
    assert rows[0] == ["ID", "Name", "Status", "Disk", "Size", "Visibility"]
    assert sorted(row[1] for row in rows[1:]) == ["alpha", "beta"]
    values = ok(run(node.url, project, "image", "list", "-f", "value", "-c", "name", "-c", "status", "--sort",
                    "name:asc")).splitlines()
    assert values == ["alpha active", "beta queued"]


def test_one_image_by_name_with_chosen_fields(node: Server, project: str, images: list[dict[str, object]]) -> None:
    shown = ok(run(node.url, project, "image", "show", "alpha", "-f", "value", "-c", "min_ram", "-c", "status"))
    assert shown.splitlines() == ["64", "active"]
    shown_yaml = yaml.safe_load(ok(run(node.url, project, "image", "show", "beta", "-f", "yaml")))
    assert shown_yaml["id"] == images[1]["id"] and shown_yaml["protected"] is False
    selected = json.loads(ok(run(node.url, project, "image", "list", "-f", "json", "-c", "id", "-c", "min_ram")))
    assert sorted(selected, key=lambda i: i["min_ram"]) == sorted(
        [{"id": i["id"], "min_ram": i["min_ram"]} for i in images], key=lambda i: i["min_ram"])


def test_an_unknown_column_lists_the_columns(node: Server, project: str, images: list[dict[str, object]]) -> None:
    result = run(node.url, project, "image", "list", "-c", "colour")
    assert result.returncode == 2
    assert "no column 'colour'" in result.stderr.decode() and "disk_format" in result.stderr.decode()


def test_names_work_wherever_an_id_does_and_must_be_unique(node: Server, project: str,
                                                          images: list[dict[str, object]]) -> None:
    ok(run(node.url, project, "image", "tag", "beta", "blue"))
    ok(run(node.url, project, "image", "update", "beta", "--name", "alpha"))
    assert images[1]["id"] in ok(run(node.url, project, "image", "list", "--tag", "blue", "-f", "value", "-c", "id"))
    ambiguous = run(node.url, project, "image", "delete", "alpha")
    assert ambiguous.returncode == 2
    message = ambiguous.stderr.decode()
    assert "2 images are named 'alpha'" in message
    assert str(images[0]["id"]) in message and str(images[1]["id"]) in message
    missing = run(node.url, project, "image", "show", "gamma")  # no such name: the service is asked for that ID
    assert missing.returncode == 1
    assert missing.stderr.decode().startswith("glimpse: error: 404: ") and "gamma" in missing.stderr.decode()
    assert "(request req-" in missing.stderr.decode()


def test_an_error_is_one_line_with_the_request_id_once(node: Server, project: str, tmp_path: Path) -> None:
    too_big = tmp_path / "big.raw"
    too_big.write_bytes(b"y" * 2000)  # over image_size_cap
    result = run(node.url, project, "image", "create", "--name", "big", "--disk-format", "raw",
                 "--container-format", "bare", "--file", str(too_big))
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    [line] = lines
    assert line.startswith("glimpse: error: 413: image ") and "was created, but its upload failed:" in line
    assert line.count("req-") == 1 and line.count("413") == 1


def test_quota_usage_is_in_human_units_or_bytes(node: Server, project: str, images: list[dict[str, object]]) -> None:
    rows = list(csv.reader(io.StringIO(ok(run(node.url, project, "info", "usage", "-f", "csv")))))
    size = next(row for row in rows if row[0] == "image_size_total")
    assert size == ["image_size_total", "0 B", "100.0 MiB"]  # 300 bytes round down to 0 MiB in the API
    raw = list(csv.reader(io.StringIO(ok(run(node.url, project, "info", "usage", "-f", "csv", "--bytes")))))
    assert next(row for row in raw if row[0] == "image_size_total") == ["image_size_total", "0", str(100 << 20)]
    count = next(row for row in rows if row[0] == "image_count_total")
    assert count == ["image_count_total", "2", "unlimited"]


def test_the_cli_offers_the_formats_the_output_module_prints() -> None:
    assert cli.FORMATS == _output.FORMATS


def test_the_yaml_emitter_round_trips_what_we_print() -> None:
    documents = [{"a": 1, "b": "x: y", "c": [1, "2", {"d": None, "e": []}], "f": {}, "g": True, "h": "true",
                  "j": "2026-12-06T01:47:07Z", "k": "", "l": "a\nb", "m": [[1, 2], []], "n": "-x", "o": "1e5",
                  "p": "#c", "q": "a #b", "r": ".inf", "s": "http://x/v2/", "t": "ünï", "u": "0x1F", "v": "1:20"},
                 [], [{"x": 1}], "plain", 5, None]
    for document in documents:
        assert yaml.safe_load(_output.yaml_text(document)) == document


def test_yaml_output_of_a_record_is_plain_for_simple_fields() -> None:
    out = io.StringIO()
    _output.record({"id": str(uuid.UUID(int=1)), "name": "cirros", "size": 12}, "yaml", out)
    assert out.getvalue() == f"id: {uuid.UUID(int=1)}\nname: cirros\nsize: 12\n"
