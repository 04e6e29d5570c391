"""The ``glimpse`` command, run as a subprocess against a live server."""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from glimpseclient import cli
from tests.conftest import Server, free_port

GLIMPSE = str(Path(sys.executable).parent / "glimpse")


def run(server_url: str | None, project: str, *args: str, stdin: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environment.update({"OS_PROJECT_ID": project, **(env or {})})
    if server_url:
        environment["OS_IMAGE_URL"] = server_url
    return subprocess.run([GLIMPSE, *args], input=stdin, capture_output=True, env=environment, timeout=120)


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def as_json(result: subprocess.CompletedProcess[bytes]) -> object:
    return json.loads(ok(result))


def test_image_life_cycle_through_the_cli(glimpse: Server, project: str, image_file: Path, tmp_path: Path) -> None:
    url = glimpse.url
    created = as_json(run(url, project, "image", "create", "--name", "cli-life", "--disk-format", "raw",
                          "--container-format", "bare", "--property", "os_distro=cirros", "--tag", "one",
                          "--file", str(image_file), "-f", "json"))
    assert isinstance(created, dict)
    image_id = created["id"]
    assert (created["status"], created["size"], created["os_distro"]) == ("active", image_file.stat().st_size,
                                                                          "cirros")

    table = ok(run(url, project, "image", "list"))
    header, rule, row = table.splitlines()[:3]
    assert header.split() == ["ID", "Name", "Status", "Disk", "Size", "Visibility"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.split()[:4] == [image_id, "cli-life", "active", "raw"]
    listed = as_json(run(url, project, "-f", "json", "image", "list"))
    assert [i["id"] for i in listed] == [image_id]  # type: ignore[union-attr,index]

    shown = ok(run(url, project, "image", "show", image_id))
    assert any(line.split() == ["os_distro", "cirros"] for line in shown.splitlines())

    updated = as_json(run(url, project, "image", "update", image_id, "--name", "renamed", "--min-ram", "128",
                          "--property", "os_version=1", "--remove-property", "os_distro", "-f", "json"))
    assert isinstance(updated, dict)
    assert (updated["name"], updated["min_ram"], updated["os_version"]) == ("renamed", 128, "1")
    assert "os_distro" not in updated

    ok(run(url, project, "image", "tag", image_id, "two", "three"))
    ok(run(url, project, "image", "untag", image_id, "one"))
    tags = as_json(run(url, project, "image", "show", image_id, "-f", "json"))["tags"]  # type: ignore[index]
    assert sorted(tags) == ["three", "two"]

    target = tmp_path / "download.raw"
    ok(run(url, project, "image", "download", image_id, "--file", str(target)))
    assert target.read_bytes() == image_file.read_bytes()
    piped = run(url, project, "image", "download", image_id)
    assert ok(run(url, project, "image", "show", image_id)) and piped.stdout == image_file.read_bytes()

    ok(run(url, project, "image", "deactivate", image_id))
    status = as_json(run(url, project, "image", "show", image_id, "-f", "json"))["status"]  # type: ignore[index]
    assert status == "deactivated"
    ok(run(url, project, "image", "reactivate", image_id))
    ok(run(url, project, "image", "delete", image_id))
    assert run(url, project, "image", "show", image_id).returncode == 1


def test_upload_from_stdin(glimpse: Server, project: str) -> None:
    created = as_json(run(glimpse.url, project, "image", "create", "--name", "piped", "--disk-format", "raw",
                          "--container-format", "bare", "-f", "json"))
    image_id = created["id"]  # type: ignore[index]
    data = os.urandom(1_500_000)
    ok(run(glimpse.url, project, "image", "upload", image_id, "--file", "-", stdin=data))
    assert run(glimpse.url, project, "image", "download", image_id).stdout == data


def test_members_through_the_cli(glimpse: Server, project: str) -> None:
    other = uuid.uuid4().hex
    image_id = as_json(run(glimpse.url, project, "image", "create", "--name", "share", "--visibility", "shared",
                           "-f", "json"))["id"]  # type: ignore[index]
    member = as_json(run(glimpse.url, project, "member", "create", image_id, other, "-f", "json"))
    assert member["status"] == "pending"  # type: ignore[index]
    accepted = as_json(run(glimpse.url, other, "member", "update", image_id, other, "accepted", "-f", "json"))
    assert accepted["status"] == "accepted"  # type: ignore[index]
    table = ok(run(glimpse.url, project, "member", "list", image_id))
    assert table.splitlines()[2].split() == [image_id, other, "accepted"]
    ok(run(glimpse.url, project, "member", "delete", image_id, other))


def test_schema_and_info_commands(glimpse: Server, project: str) -> None:
    assert "visibility" in ok(run(glimpse.url, project, "schema", "show"))
    assert as_json(run(glimpse.url, project, "schema", "show", "member", "-f", "json"))["name"] == "member"  # type: ignore[index]
    assert "CURRENT" in ok(run(glimpse.url, project, "info", "versions"))
    assert as_json(run(glimpse.url, project, "info", "endpoints", "-f", "json")) == {
        "registry": glimpse.url, "streaming": glimpse.url}
    assert "file" in ok(run(glimpse.url, project, "info", "stores"))


def test_a_refusal_is_one_line_on_stderr_with_exit_code_1(glimpse: Server, project: str) -> None:
    result = run(glimpse.url, project, "image", "show", "does-not-exist")
    assert result.returncode == 1 and result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("glimpse: error: 404: ") and "does-not-exist" in lines[0] and "(request req-" in lines[0]


def test_an_unreachable_service_exits_3(project: str) -> None:
    result = run(f"http://127.0.0.1:{free_port()}", project, "--retries", "0", "image", "list")
    assert result.returncode == 3
    assert result.stderr.decode().strip().startswith("glimpse: error: cannot connect to")


def test_missing_configuration_and_bad_usage_exit_2(project: str) -> None:
    result = run(None, project, "image", "list")
    assert result.returncode == 2 and "OS_IMAGE_URL" in result.stderr.decode()
    assert run(None, project, "image", "frobnicate").returncode == 2


def test_a_corrupted_image_exits_4_and_leaves_no_file(glimpse: Server, project: str, tmp_path: Path) -> None:
    image_id = as_json(run(glimpse.url, project, "image", "create", "--name", "rot", "--disk-format", "raw",
                           "--container-format", "bare", "-f", "json"))["id"]  # type: ignore[index]
    ok(run(glimpse.url, project, "image", "upload", image_id, "--file", "-", stdin=b"x" * 100_000))
    stored = glimpse.data_dir / "images" / str(image_id)
    stored.write_bytes(b"y" + stored.read_bytes()[1:])
    result = run(glimpse.url, project, "image", "download", image_id, "--file", str(tmp_path / "rot.raw"))
    assert result.returncode == 4
    assert "sha512 mismatch" in result.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_a_progress_bar_with_rate_and_eta_is_drawn_on_a_terminal(glimpse: Server, project: str,
                                                                  tmp_path: Path) -> None:
    source = tmp_path / "big.raw"
    source.write_bytes(os.urandom(8 * 1024 * 1024))
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environment.update(OS_PROJECT_ID=project, OS_IMAGE_URL=glimpse.url)
    process = subprocess.run(
        [GLIMPSE, "image", "create", "--name", "bar", "--disk-format", "raw", "--container-format", "bare",
         "--file", str(source)], stdout=subprocess.DEVNULL, stderr=terminal, env=environment, timeout=120)
    os.close(terminal)
    drawn = b""
    while True:
        try:
            block = os.read(controller, 65536)
        except OSError:
            break
        if not block:
            break
        drawn += block
    os.close(controller)
    assert process.returncode == 0
    text = drawn.decode()
    assert "upload" in text and "100%" in text and "8.0 MiB / 8.0 MiB" in text
    assert "/s" in text and "ETA" in text


def test_no_progress_bar_when_stderr_is_not_a_terminal(glimpse: Server, project: str, image_file: Path) -> None:
    result = run(glimpse.url, project, "image", "create", "--name", "quiet", "--disk-format", "raw",
                 "--container-format", "bare", "--file", str(image_file))
    assert result.returncode == 0 and result.stderr == b""


def _every_command(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _every_command(child, [*prefix, name])
    return found


def test_help_works_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _every_command(cli.build_parser(), [])
    assert ["image", "download"] in commands and ["member", "update"] in commands and ["info", "stores"] in commands
    for command in commands:
        with pytest.raises(SystemExit) as done:
            cli.main([*command, "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith("usage: glimpse")
    assert subprocess.run([GLIMPSE, "--help"], capture_output=True, timeout=60).returncode == 0


def test_uploads_and_downloads_stream_without_holding_the_image(glimpse: Server, project: str,
                                                                tmp_path: Path) -> None:
    size = 96 * 1024 * 1024
    source = tmp_path / "large.raw"
    with source.open("wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environment.update(OS_PROJECT_ID=project, OS_IMAGE_URL=glimpse.url)

    if not Path("/usr/bin/time").exists():
        pytest.skip("GNU time (/usr/bin/time) is needed to read a process's own peak memory")

    def peak_rss_mib(*args: str) -> float:
        # Through GNU time: a child forked from this (large) pytest process would report our peak as its own.
        result = subprocess.run(["/usr/bin/time", "-f", "%M", GLIMPSE, *args], env=environment,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return int(result.stderr.strip().splitlines()[-1]) / 1024

    image_id = as_json(run(glimpse.url, project, "image", "create", "--name", "large", "--disk-format", "raw",
                           "--container-format", "bare", "-f", "json"))["id"]  # type: ignore[index]
    # A 96 MiB image passes through processes that stay far below its size.
    assert peak_rss_mib("image", "upload", str(image_id), "--file", str(source)) < 40
    assert peak_rss_mib("image", "download", str(image_id), "--file", str(tmp_path / "copy.raw")) < 40
    assert (tmp_path / "copy.raw").stat().st_size == size


def test_an_unwritable_destination_is_one_line_and_exit_2(glimpse: Server, project: str, tmp_path: Path) -> None:
    image_id = as_json(run(glimpse.url, project, "image", "create", "--name", "nowhere", "--disk-format", "raw",
                           "--container-format", "bare", "-f", "json"))["id"]  # type: ignore[index]
    ok(run(glimpse.url, project, "image", "upload", image_id, "--file", "-", stdin=b"data"))
    result = run(glimpse.url, project, "image", "download", image_id, "--file", str(tmp_path / "no" / "dir.raw"))
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "No such file or directory" in lines[0]
